# cython: language_level=3
"""Socket I/O at the kernel boundary, in C: the compiled twin of `_sockio.py` (read it first).

recv and send are called directly on the fd, holding the GIL: on a non-blocking socket they
never wait, so releasing the GIL and taking it back (which the socket module does around every
call) costs more than the call. Received bytes land in a C buffer and are copied out into a bytes
object of their exact size, whereas the socket module has to give Python a buffer to fill; for
large reads recv_new_bytes receives straight into a bytes object and shrinks it (one copy).
A bytes object that the protocol did not keep is reused for the next read of its size.
EAGAIN is a return value, not an exception to create and catch. EINTR is retried after running
the signal handlers, as the socket module does (PEP 475).

A connection is accepted with accept4 as its fd alone, non-blocking and close-on-exec, with the
peer's address decoded here as the socket module does: no socket object is made and checked.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer, PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_REFCNT
from libc.errno cimport EAGAIN, EINTR, errno
from libc.string cimport memcpy, memset
from posix.unistd cimport close as c_close

import socket

from eloop._fd_transport import accept_through_object

cdef extern from "Python.h":
    int _PyBytes_Resize(PyObject **bytes, Py_ssize_t newsize) except -1
    object PyUnicode_DecodeFSDefaultAndSize(const char *text, Py_ssize_t size)
    ctypedef struct PyBytesObject:
        Py_hash_t ob_shash  # the cached hash, -1 until hash() computes it

cdef extern from *:
    """
    /* Without the GIL, a reference count of 1 read here proves nothing about other threads. */
    #ifdef Py_GIL_DISABLED
    #define ELOOP_REUSE_UNSHARED_BYTES 0
    #else
    #define ELOOP_REUSE_UNSHARED_BYTES 1
    #endif
    """
    bint ELOOP_REUSE_UNSHARED_BYTES

cdef extern from "<string.h>" nogil:
    size_t strnlen(const char *text, size_t limit)

cdef extern from "<errno.h>":
    int EWOULDBLOCK

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t
    struct sockaddr:
        sa_family_t sa_family
    struct sockaddr_storage:
        sa_family_t ss_family
    ssize_t c_recv "recv"(int fd, void *buf, size_t size, int flags)
    ssize_t c_send "send"(int fd, const void *buf, size_t size, int flags)
    int c_accept4 "accept4"(int fd, sockaddr *address, socklen_t *length, int flags)
    int c_getsockname "getsockname"(int fd, sockaddr *address, socklen_t *length)
    int c_setsockopt "setsockopt"(int fd, int level, int name, const void *value,
                                  socklen_t length)
    int MSG_NOSIGNAL, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_STREAM, AF_INET, AF_INET6, AF_UNIX

cdef extern from "<netinet/in.h>" nogil:
    struct in_addr:
        pass
    struct in6_addr:
        pass
    struct sockaddr_in:
        unsigned short sin_port
        in_addr sin_addr
    struct sockaddr_in6:
        unsigned short sin6_port
        unsigned int sin6_flowinfo
        in6_addr sin6_addr
        unsigned int sin6_scope_id
    unsigned short ntohs(unsigned short)
    unsigned int ntohl(unsigned int)
    int IPPROTO_TCP
    int INET6_ADDRSTRLEN

cdef extern from "<netinet/tcp.h>" nogil:
    int TCP_NODELAY

cdef extern from "<arpa/inet.h>" nogil:
    const char *inet_ntop(int family, const void *source, char *text, socklen_t size)

cdef extern from "<sys/un.h>" nogil:
    struct sockaddr_un:
        char sun_path[108]

# What one recv may receive: the size of the loop's read buffer. Only the thread holding the
# GIL uses this buffer, and only between a recv and the copy that follows it.
cdef enum:
    _BUFFER_SIZE = 256 * 1024
cdef char _buffer[_BUFFER_SIZE]

# Objects of this size or less come from CPython's own small-object allocator, cheap enough;
# larger ones cost a malloc and a free (glibc's fast per-thread cache ends at 1,032 bytes).
cdef enum:
    _SMALL_OBJECT = 512

# A bytes object that recv_bytes made and whose protocol did not keep it (see reuse_if_unshared):
# the next read of the same size is copied into it rather than into a new object.
cdef object _unshared = None


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
    global _unshared
    cdef object data = _unshared
    if data is not None and PyBytes_GET_SIZE(data) == nbytes:
        _unshared = None
        memcpy(PyBytes_AS_STRING(data), _buffer, nbytes)
        (<PyBytesObject *>data).ob_shash = -1
        return data
    return PyBytes_FromStringAndSize(_buffer, nbytes)


cpdef reuse_if_unshared(object data):
    # Held by the caller alone (Cython passes `data` borrowed) after the protocol's
    # data_received returned: no other code can ever see this object again, so it is as new,
    # the condition _PyBytes_Resize relies on to change a bytes object in place. Streams whose
    # reads keep one size (an echo, a protocol of fixed frames) then allocate nothing per read.
    global _unshared
    if (ELOOP_REUSE_UNSHARED_BYTES and Py_REFCNT(data) == 1 and PyBytes_CheckExact(data)
            and PyBytes_GET_SIZE(data) > _SMALL_OBJECT):
        _unshared = data


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


# -- accepting ----------------------------------------------------------------------------------

cdef object _SOCKET = socket.socket
cdef object _SOCKET_ACCEPT = socket.socket.accept


cpdef object accept_connection(object sock, int fd):
    # accept4 makes the connection non-blocking and close-on-exec in the one call: no socket
    # object (whose making checks the fd with a getsockname) and no ioctl to make it non-blocking.
    cdef sockaddr_storage address
    cdef socklen_t length
    cdef int conn
    cdef object peer
    if type(sock) is not _SOCKET and type(sock).accept is not _SOCKET_ACCEPT:
        # A socket class with an accept() of its own: it is called, as asyncio calls it.
        return accept_through_object(sock)
    while True:
        length = sizeof(address)
        memset(&address, 0, sizeof(address))  # (a Unix peer without a name leaves sun_path unset)
        conn = c_accept4(fd, <sockaddr *>&address, &length, SOCK_NONBLOCK | SOCK_CLOEXEC)
        if conn >= 0:
            break
        if errno == EINTR:
            PyErr_CheckSignals()  # raises what a signal handler raised
            continue
        if _would_block(errno):
            return None
        PyErr_SetFromErrno(OSError)  # raises
    family = address.ss_family
    if family != AF_INET and family != AF_INET6 and family != AF_UNIX:
        # A family whose addresses only the socket module reads: a socket object for it.
        return _socket_object_of(sock, conn)
    try:
        peer = _address(<sockaddr *>&address, length)
    except BaseException:
        c_close(conn)
        raise
    return conn, peer


cdef object _socket_object_of(object sock, int conn):
    try:
        # The fd is non-blocking already: SOCK_NONBLOCK only tells the object so.
        connection = socket.socket(sock.family, sock.type | socket.SOCK_NONBLOCK, sock.proto, conn)
    except BaseException:
        c_close(conn)
        raise
    try:
        return connection, connection.getpeername()
    except BaseException:
        connection.close()
        raise


cpdef object local_address(object sock, int fd):
    cdef sockaddr_storage address
    cdef socklen_t length = sizeof(address)
    memset(&address, 0, sizeof(address))
    if c_getsockname(fd, <sockaddr *>&address, &length) < 0:
        PyErr_SetFromErrno(OSError)  # raises
    family = address.ss_family
    if family != AF_INET and family != AF_INET6 and family != AF_UNIX:
        # (Not reached by the loop: a connection of another family keeps its socket object.)
        return sock.getsockname()
    return _address(<sockaddr *>&address, length)


cpdef set_tcp_nodelay(object sock, int fd):
    cdef int on = 1
    if c_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0:
        PyErr_SetFromErrno(OSError)  # raises


cdef object _address(sockaddr *address, socklen_t length):
    """A socket address as the socket module gives it (makesockaddr in socketmodule.c)."""
    cdef char text[64]  # INET6_ADDRSTRLEN (46) and more
    cdef sockaddr_in *ipv4
    cdef sockaddr_in6 *ipv6
    cdef sockaddr_un *unix
    cdef Py_ssize_t path_length
    if length == 0:
        return None  # no address
    if address.sa_family == AF_INET:
        ipv4 = <sockaddr_in *>address
        if inet_ntop(AF_INET, &ipv4.sin_addr, text, sizeof(text)) == NULL:
            PyErr_SetFromErrno(OSError)
        return (<char *>text).decode('ascii'), ntohs(ipv4.sin_port)
    if address.sa_family == AF_INET6:
        ipv6 = <sockaddr_in6 *>address
        if inet_ntop(AF_INET6, &ipv6.sin6_addr, text, sizeof(text)) == NULL:
            PyErr_SetFromErrno(OSError)
        return ((<char *>text).decode('ascii'), ntohs(ipv6.sin6_port), ntohl(ipv6.sin6_flowinfo),
                ipv6.sin6_scope_id)
    # AF_UNIX: a name in Linux's abstract namespace (a NUL first) is bytes, all of them; a path
    # is a str, up to its NUL; no name at all is ''.
    unix = <sockaddr_un *>address
    path_length = <Py_ssize_t>length - (<char *>unix.sun_path - <char *>address)
    if path_length > 0 and unix.sun_path[0] == 0:
        return unix.sun_path[:path_length]
    if path_length < 0:
        path_length = 0
    return PyUnicode_DecodeFSDefaultAndSize(unix.sun_path, strnlen(unix.sun_path, path_length))
