# The C functions of _sockio.pyx, for the modules that cimport them.

cpdef object recv_bytes(object sock, int fd, object view)
cpdef reuse_if_unshared(object data)
cpdef object recv_new_bytes(object sock, int fd, Py_ssize_t size)
cpdef Py_ssize_t send_bytes(object sock, int fd, object data) except -1
cpdef object accept_connection(object sock, int fd)
cpdef object local_address(object sock, int fd)
cpdef set_tcp_nodelay(object sock, int fd)
