# cython: language_level=3
"""Socket I/O at the kernel boundary, in C: the compiled twin of `_sockio.py` (read it first).

recv and send are called directly on the fd, holding the GIL: on a non-blocking socket they
never wait, so releasing the GIL and taking it back (which the socket module does around every
call) costs more than the call. Received bytes land in a C buffer and are copied out into a bytes
object of their exact size, whereas the socket module has to give Python a buffer to fill.
EAGAIN is a return value, not an exception to create and catch. EINTR is retried after running
the signal handlers, as the socket module does (PEP 475).
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer, PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno
from libc.errno cimport EAGAIN, EINTR, errno

cdef extern from "<errno.h>":
    int EWOULDBLOCK

cdef extern from "<sys/socket.h>" nogil:
    ssize_t c_recv "recv"(int fd, void *buf, size_t size, int flags)
    ssize_t c_send "send"(int fd, const void *buf, size_t size, int flags)
    int MSG_NOSIGNAL

# What one recv may receive: the size of the loop's read buffer. Only the thread holding the
# GIL uses this buffer, and only between a recv and the copy that follows it.
cdef enum:
    _BUFFER_SIZE = 256 * 1024
cdef char _buffer[_BUFFER_SIZE]


cdef inline bint _would_block(int error):
    return error == EAGAIN or error == EWOULDBLOCK


cpdef object recv_bytes(object sock, int fd, object view):
    cdef Py_ssize_t size = len(view)
    cdef ssize_t nbytes
    if size > _BUFFER_SIZE:
        size = _BUFFER_SIZE
    while True:
        nbytes = c_recv(fd, _buffer, <size_t>size, 0)
        if nbytes >= 0:
            return PyBytes_FromStringAndSize(_buffer, nbytes)
        if errno == EINTR:
            PyErr_CheckSignals()  # raises what a signal handler raised
            continue
        if _would_block(errno):
            return None
        PyErr_SetFromErrno(OSError)  # raises


cpdef Py_ssize_t send_bytes(object sock, int fd, object data) except -1:
    cdef Py_buffer view
    if PyBytes_CheckExact(data):
        return _send(fd, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return _send(fd, <const char *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


cdef Py_ssize_t _send(int fd, const char *buf, Py_ssize_t size) except -1:
    cdef ssize_t sent
    while True:
        # MSG_NOSIGNAL: a peer gone away is an EPIPE error, not a SIGPIPE, whatever the process
        # has done with that signal.
        sent = c_send(fd, buf, <size_t>size, MSG_NOSIGNAL)
        if sent >= 0:
            return sent
        if errno == EINTR:
            PyErr_CheckSignals()  # raises what a signal handler raised
            continue
        if _would_block(errno):
            return 0
        PyErr_SetFromErrno(OSError)  # raises
