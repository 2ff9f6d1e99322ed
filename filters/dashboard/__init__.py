"""dejunk's dashboard: the proxy answers its own host name (`dejunk_dashboard`) with pages and a JSON API.

`hooks` takes the flows for that name from mitmproxy (never forwarded, not counted), `server`
routes a request (security first, then the pages of `ui/` or the API), `security` holds the
token, Origin and password checks and the headers of every answer, `api` the endpoints over the
proxy's state (store, recent decisions, engines, lists, the user's filters).
"""
