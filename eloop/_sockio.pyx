# cython: language_level=3
"""Socket I/O at the kernel boundary, in C: the compiled twin of `_sockio.py` (read it first).

recv and send are called directly on the fd, holding the GIL: on a non-blocking socket they
never wait, so releasing the GIL and taking it back (which the socket module does around every
call) costs more than the call. Received bytes land in a C buffer and are copied out into a bytes
object of their exact size, whereas the socket module has to give Python a buffer to fill; for
large reads recv_new_bytes receives straight into a bytes object and shrinks it (one copy).
EAGAIN is a return value, not an exception to create and catch. EINTR is retried after running
the signal handlers, as the socket module does (PEP 475).
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer, PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.errno cimport EAGAIN, EINTR, errno

cdef extern from "Python.h":
    int _PyBytes_Resize(PyObject **bytes, Py_ssize_t newsize) except -1

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


cdef ssize_t _recv(int fd, char *buf, Py_ssize_t size) except -2:
    """The bytes received into buf, -1 if none are there now (EAGAIN)."""
    cdef ssize_t nbytes
    while True:
        nbytes = c_recv(fd, buf, <size_t>size, 0)
        if nbytes >= 0:
            return nbytes
        if errno == EINTR:
            PyErr_CheckSignals()  # raises what a signal handler raised
            continue
        if _would_block(errno):
            return -1
        PyErr_SetFromErrno(OSError)  # raises
        return -2


cpdef object recv_bytes(object sock, int fd, object view):
    cdef Py_ssize_t size = len(view)
    cdef ssize_t nbytes
    if size > _BUFFER_SIZE:
        size = _BUFFER_SIZE
    nbytes = _recv(fd, _buffer, size)
    if nbytes < 0:
        return None
    return PyBytes_FromStringAndSize(_buffer, nbytes)


cpdef object recv_new_bytes(object sock, int fd, Py_ssize_t size):
    # The kernel copies straight into the bytes object, which then shrinks to what came: one
    # copy of every byte, where recv_bytes makes two.
    cdef ssize_t nbytes
    cdef object data = PyBytes_FromStringAndSize(NULL, size)
    cdef PyObject *raw
    nbytes = _recv(fd, PyBytes_AS_STRING(data), size)
    if nbytes < 0:
        return None
    if nbytes < size:
        # _PyBytes_Resize needs the only reference: move it from `data` to `raw`.
        raw = <PyObject *>data
        Py_INCREF(data)
        data = None
        _PyBytes_Resize(&raw, nbytes)  # (on failure it frees the object and raises)
        data = <object>raw
        Py_DECREF(data)
    return data


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
