# C types for hotpath.py, read by Cython when it compiles that module (see its docstring): the
# source stays plain Python. `cpdef` keeps each function callable from Python (the engine binds
# them as methods) while calls inside the module go straight to C. A module constant typed here is
# not visible from Python: COMPILED, which `speed` reads, stays a Python object.
cimport cython

# The positions of a target, of the hot state and of the rule indexes, and the rule bits, as C numbers.
cdef Py_ssize_t BITS, DOMAIN_KEYS, HOST, HOST_END, HOST_START, METHOD, ORIGIN, PATH_KEYS, SOURCE_KEYS, TYPE_BIT, URL
cdef Py_ssize_t PAIR_PREFIX
cdef long GLOB, HOST_GLOB, HOST_PLAIN, LABELS, PLAIN_END, PLAIN_EQ, PLAIN_IN, PLAIN_START, REGEX, REGEX_SEARCH
cdef Py_ssize_t _HEADS, _SOURCE_INFO, _TOKEN_FLAGS, _INDEXES, _COMPILED_RULES, _HAS, _DECISIONS, _PAGE_CACHE
cdef Py_ssize_t _REDIRECT_CHOICES, _ALLOWED, _TOKEN_TABLE, FILTER_BITS, _ROLES
cdef Py_ssize_t _INDEX, _BY_TOKEN, _ALWAYS, _BY_DOMAIN, _RUNS
cdef Py_ssize_t _HEAD_ORIGIN, _HEAD_HOST_END, _HEAD_HOST, _HEAD_HOST_START, _HEAD_ASCII_HOST, _HEAD_WEBSOCKET
cdef Py_ssize_t _HEAD_DOMAIN, _HEAD_ENDS_PAIR, _HEAD_LAST_TOKEN
cdef Py_ssize_t AFTER_BLOCK, BLOCKS, EXCEPTIONS, IMPORTANTS, MODIFIERS, PAGE_BLOCKS, PAGE_EXCEPTIONS
cdef long EXCEPTION_ROLE, IMPORTANT_ROLE, REDIRECT_ROLE
cdef unsigned int _MASK32
cdef long long DOCUMENT, FIRST_PARTY, PAGE_TYPES, POPUP, THIRD_PARTY, WEBSOCKET, OTHER
cdef dict BIT_OF_TYPE
cdef frozenset EMPTY
cdef int IS_KEY, STARTS_PAIR
cdef bytes _TOKEN_BYTES


cpdef tuple target(engine, str url, source_url, request_type, method, bint page=*)


@cython.locals(heads=dict, source_info=dict, lurl=str, raw_url=str, cut=Py_ssize_t, head=tuple, host=str,
               host_start=Py_ssize_t, host_end=Py_ssize_t, ascii_host=str, source=tuple, source_domain=str,
               type_bit=cython.longlong, bits=cython.longlong, path=list, flags_of=dict, keys=list, pairs=list,
               starts_pair=int, previous=str, token=str, pair=str, flags=int)
cdef tuple _target(tuple hot, engine, str url, source_url, request_type, method, bint page)


@cython.locals(h=cython.uint)
cdef Py_ssize_t _token_bit(unsigned int h) noexcept


@cython.locals(tokens=list, size=Py_ssize_t, mask=Py_ssize_t, slot_tokens=list, tags=bytearray, flags=bytearray,
               bits=bytearray, token=str, h=cython.uint, ch=Py_UCS4, slot=Py_ssize_t, bit=Py_ssize_t)
cpdef tuple token_table(dict flags_of)


@cython.locals(slot=Py_ssize_t, tag=cython.uint, length=Py_ssize_t, found=cython.uint, token=str, i=Py_ssize_t)
cdef Py_ssize_t _token_slot(str lurl, Py_ssize_t start, Py_ssize_t end, unsigned int h, list slot_tokens, bytes tags,
                            Py_ssize_t mask) except -2


@cython.locals(slot_tokens=list, slot_flags=bytes, key_filter=bytes, keys=list, pairs=list, token_start=Py_ssize_t,
               h=cython.uint, i=Py_ssize_t, ch=Py_UCS4, slot=Py_ssize_t, bit=Py_ssize_t)
cpdef list keys_by_char(str lurl, Py_ssize_t start, dict flags_of, tuple table, int starts_pair, str previous)


@cython.locals(pair=str, slot=Py_ssize_t, token=str, slot_tokens=list, slot_flags=bytes)
cdef Py_ssize_t _take_token(str lurl, Py_ssize_t start, Py_ssize_t end, unsigned int h, dict flags_of, tuple table,
                            list keys, list pairs, int starts_pair, str previous) except -2


cpdef find(engine, Py_ssize_t n, tuple t)


@cython.locals(tables=tuple, probe=tuple, bits=cython.longlong, url=str, more=list, run=tuple, rid=object)
cdef _find(tuple hot, engine, Py_ssize_t n, tuple t)


@cython.locals(run=tuple)
cdef tuple _run_of(engine, dict runs, Py_ssize_t n, key)


@cython.locals(bucket=tuple)
cdef tuple _domain_run(engine, tuple tables, key)


@cython.locals(at=Py_ssize_t, c=tuple, refused=cython.longlong)
cdef _first_match(tuple run, tuple rids, long long bits, str url, tuple t)


@cython.locals(found=list, keys=list, runs=dict, run=tuple, domain_keys=tuple)
cdef list _runs_for(engine, tuple tables, Py_ssize_t n, tuple t)


cdef list _with_run(list found, tuple run)


@cython.locals(probes=list, probe=tuple)
cdef tuple _probe_of(engine, tuple tables, Py_ssize_t n, origin)


@cython.locals(options=tuple)
cpdef bint options_pass(tuple c, tuple t)


cdef bint _sites_pass(frozenset limited_to, frozenset excluded, frozenset keys) except -1


@cython.locals(keys=frozenset, denied=frozenset)
cdef bint _other_options_pass(tuple options, tuple t) except -1


@cython.locals(kind=long, text=str, argument=object, host=str, at=Py_ssize_t, end=Py_ssize_t, start=Py_ssize_t,
               data=bytes)
cpdef bint url_test(tuple test, tuple t)


cdef bint _glob(tuple parts, str text, Py_ssize_t pos) except -1


@cython.locals(segments=tuple, count=Py_ssize_t, end=Py_ssize_t, first=Py_ssize_t, i=Py_ssize_t, pieces=tuple,
               width=Py_ssize_t, piece=str, start=Py_ssize_t)
cpdef bint glob_match(tuple plan, str text, Py_ssize_t pos)


@cython.locals(lead=str, at=Py_ssize_t, found=Py_ssize_t, end=Py_ssize_t)
cdef Py_ssize_t _find_segment(str text, Py_ssize_t pos, tuple pieces, bint last) except -2


@cython.locals(end=Py_ssize_t, final=Py_ssize_t, i=Py_ssize_t, piece=str, ch=Py_UCS4)
cdef Py_ssize_t _segment_end(str text, Py_ssize_t at, tuple pieces, bint last) except -2


cpdef list find_all(engine, Py_ssize_t n, tuple t)


@cython.locals(tables=tuple, probe=tuple, bits=cython.longlong, url=str, found=list, simple=object, more=list,
               run=tuple)
cdef list _find_all(tuple hot, engine, Py_ssize_t n, tuple t)


@cython.locals(at=Py_ssize_t, c=tuple, refused=cython.longlong)
cdef int _all_in_run(tuple run, tuple rids, long long bits, str url, tuple t, list found) except -1


@cython.locals(compiled=list, roles=long, other=Py_ssize_t, important=long, page=object, overridden=tuple,
               matches=tuple, allowed=object)
cdef blocked(tuple hot, engine, Py_ssize_t rid, tuple t, str url, source_url, after)


cdef _page_rids(tuple hot, engine, url)


@cython.locals(t=tuple, hot=tuple, has=tuple, decisions=dict, after=list)
cpdef check(engine, str url, source_url=*, request_type=*, method=*)


@cython.locals(k=Py_ssize_t, source="unsigned int[:]", target="unsigned int[:]")
cpdef inverse_permutation(order)
