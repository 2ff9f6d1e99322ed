# C types for hotpath.py, read by Cython when it compiles that module (see its docstring): the
# source stays plain Python. `cpdef` keeps each function callable from Python (the engine binds
# them as methods) while calls inside the module go straight to C. A module constant typed here is
# not visible from Python, so the ones the engine imports (COMPILED, EMPTY, IS_KEY, STARTS_PAIR)
# stay Python objects.
cimport cython

# The positions of a target, of the hot state and of the rule indexes, and the rule bits, as C numbers.
cdef Py_ssize_t BITS, DOMAIN_KEYS, ORIGIN, PATH_KEYS, TYPE_BIT, URL, PAIR_PREFIX
cdef Py_ssize_t _HEADS, _SOURCE_INFO, _TOKEN_FLAGS, _INDEXES, _COMPILED_RULES, _ALLOWED
cdef Py_ssize_t AFTER_BLOCK, BLOCKS, MODIFIERS, PAGE_BLOCKS, PAGE_EXCEPTIONS
cdef long long DOCUMENT, FIRST_PARTY, PAGE_TYPES, POPUP, THIRD_PARTY, WEBSOCKET, OTHER
cdef dict BIT_OF_TYPE
cdef bytes _TOKEN_BYTES


@cython.locals(hot=tuple, lurl=str, raw_url=str, cut=Py_ssize_t, head=tuple, host=str, host_start=Py_ssize_t,
               host_end=Py_ssize_t, ascii_host=str, source=tuple, source_domain=str, type_bit=cython.longlong,
               bits=cython.longlong, path=list, flags_of=dict, keys=list, pairs=list, starts_pair=int,
               previous=str, token=str, pair=str, flags=int)
cpdef tuple target(engine, str url, source_url, request_type, method, bint page=*)


@cython.locals(tokens=list, token_start=Py_ssize_t, end=Py_ssize_t, i=Py_ssize_t, ch=Py_UCS4)
cpdef list tokens_by_char(str lurl, Py_ssize_t start)


@cython.locals(hot=tuple, indexes=tuple, probes=list, probe=tuple, bits=cython.longlong, buckets=tuple, keys=list,
               by_token=dict, always=dict, domain_keys=tuple, by_domain=dict, compiled=list, url=str, bucket=tuple,
               rid=Py_ssize_t, c=tuple, refused=cython.longlong)
cpdef find(engine, Py_ssize_t n, tuple t)


@cython.locals(t=tuple, has=tuple)
cpdef check(engine, str url, source_url=*, request_type=*, method=*)
