# C types for _stream_transport.py (Cython "pure Python mode": this file augments the .py of the
# same name). SocketStream is a C type: the read and write paths reach its fields and methods and
# the loop's and poller's without Python attribute lookups. SocketTransport stays a Python class:
# it must inherit asyncio's transport classes, which a C type cannot.

cimport cython
from cpython.contextvars cimport PyContext_Enter, PyContext_Exit

from eloop cimport _sockio
from eloop._core cimport LoopCore
from eloop._epoll cimport EpollPoller
from eloop._handles cimport Runnable

cdef bint _COMPILED

cdef Py_ssize_t _READ_BUDGET_BYTES
cdef Py_ssize_t _READ_BUDGET_CALLS
cdef Py_ssize_t _LARGE_READ
cdef int _LARGE_READS_KEPT
cdef Py_ssize_t _LARGE_READ_SIZE
cdef Py_ssize_t _WHOLE_READ_SIZE
cdef Py_ssize_t _SHORT
cdef Py_ssize_t _STOP


cdef class Waiter(Runnable):
    cdef public object callback
    cdef public object context
    cdef public object loop

    cpdef _run(self)


cdef class SocketStream(Runnable):
    # The 8-byte fields first, then the 4-byte ones together: no padding between them, and the
    # object stays within a smaller allocation size (one per idle connection).
    cdef public object transport
    cdef public LoopCore loop
    cdef public EpollPoller poller
    cdef public object sock
    cdef public object recv_view
    cdef public object context
    cdef public Waiter write_waiter
    cdef public long long read_iteration
    cdef public object server
    cdef public object protocol
    cdef public object data_received
    cdef public object buffer
    cdef public Py_ssize_t buffer_size
    cdef public Py_ssize_t conn_lost
    cdef public unsigned long long peer_ipv4
    cdef public object empty_waiter
    cdef public int fd
    cdef public unsigned short sock_family
    cdef public unsigned short sock_proto
    cdef public unsigned int registration
    cdef public unsigned char large_reads_left
    cdef public unsigned char reads_whole  # a flag, in the byte beside the counter
    cdef public unsigned short listed  # a flag, in the 2 bytes beside the counter
    cdef public bint reading_parked
    cdef public bint writing_parked
    cdef public bint protocol_connected
    cdef public bint buffered
    cdef public bint closing
    cdef public bint paused
    cdef public bint eof
    cdef public bint eof_received

    cpdef _run(self)
    cpdef connection_start(self)
    cpdef set_protocol(self, protocol)
    cpdef stop_reading(self)
    cpdef start_reading(self)

    @cython.locals(total=Py_ssize_t, nbytes=Py_ssize_t, calls_left=Py_ssize_t)
    cpdef on_readable(self)
    @cython.locals(data=bytes, nbytes=Py_ssize_t, size=Py_ssize_t)
    cdef Py_ssize_t read_data(self, Py_ssize_t burst) except? -9
    @cython.locals(nbytes=Py_ssize_t, size=Py_ssize_t)
    cdef Py_ssize_t read_into_protocol(self) except? -9
    cdef Py_ssize_t nothing_read(self, bint would_block) except? -9
    cdef Py_ssize_t read_failed(self, exc) except? -9
    cdef on_eof(self)

    @cython.locals(sent=Py_ssize_t, size=Py_ssize_t)
    cpdef write(self, data)
    cpdef writelines(self, list_of_data)
    cpdef write_eof(self)
    cpdef is_reading(self)
    cpdef is_closing(self)
    cpdef pause_reading(self)
    cpdef resume_reading(self)
    cpdef make_empty_waiter(self)
    cdef keep(self, piece)
    cdef maybe_pause_protocol(self)
    cdef drop_write(self)
    cdef start_writing(self)
    cdef stop_writing(self)
    cpdef on_writable(self)
    @cython.locals(sent=Py_ssize_t, short=bint, offered_all=bint)
    cdef flush(self)
    @cython.locals(size=Py_ssize_t)
    cdef consume(self, Py_ssize_t sent)
    cdef clear_buffer(self)

    cpdef close(self)
    cpdef fatal_error(self, exc, message)
    cpdef force_close(self, exc)
    cpdef call_connection_lost(self, exc)
    cpdef detach_from_server(self)
    cpdef socket_object(self)
    cpdef bint released(self)
    cpdef release_socket(self)
    cdef keep_local_address(self)
