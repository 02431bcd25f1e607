# The C functions of _sockio.pyx, for the modules that cimport them.

cpdef object recv_bytes(object sock, int fd, object view)
cpdef Py_ssize_t send_bytes(object sock, int fd, object data) except -1
