/// name nowebrtc
/// trusted no
function () {
  // RTCPeerConnection (which can reveal the user's local addresses) becomes a stand-in that never
  // connects nor gathers candidates: its methods do nothing, its promises resolve to nothing.
  var resolved = function () { return Promise.resolve(); };
  var nothing = function () {};
  var Stand = function RTCPeerConnection(config) {
    if (!(this instanceof Stand)) { throw new TypeError("Failed to construct 'RTCPeerConnection'"); }
    if (window.__dejunkDebug) { try { console.warn('dejunk nowebrtc: RTCPeerConnection prevented', config); } catch (e) { } }
  };
  var channel = function () {
    return { label: '', readyState: 'closed', close: nothing, send: nothing, addEventListener: nothing,
      removeEventListener: nothing };
  };
  Stand.prototype = {
    constructor: Stand,
    localDescription: null, remoteDescription: null, iceGatheringState: 'new', iceConnectionState: 'new',
    connectionState: 'new', signalingState: 'stable',
    createOffer: resolved, createAnswer: resolved, setLocalDescription: resolved,
    setRemoteDescription: resolved, addIceCandidate: resolved, getStats: resolved,
    createDataChannel: channel, close: nothing, addStream: nothing, addTrack: nothing, removeTrack: nothing,
    getSenders: function () { return []; }, getReceivers: function () { return []; },
    getTransceivers: function () { return []; }, addEventListener: nothing, removeEventListener: nothing,
    dispatchEvent: function () { return true; },
    toString: function () { return '[object RTCPeerConnection]'; },
  };
  var names = ['RTCPeerConnection', 'webkitRTCPeerConnection', 'mozRTCPeerConnection'];
  for (var i = 0; i < names.length; i++) {
    if (names[i] in window) {
      try { window[names[i]] = Stand; } catch (e) { }
    }
  }
}
