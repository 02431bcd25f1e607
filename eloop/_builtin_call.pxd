# Calls of a builtin method bound to its object (deque.append, deque.popleft, list.append) through
# its C function, for the loop's hottest calls: queueing a callback and taking the next one.
#
# Called as Python calls it (PyObject_Call and friends), such a method goes through the
# interpreter's recursion check first, which reads the thread state: on Python 3.12+ built as a
# shared library, that is two thread-local lookups (__tls_get_addr) per call, more than the call
# itself costs. These methods cannot recurse, so they are called directly. Any other callable
# (a Python function given as the poller's on_ready in a test, say) is called the usual way.
#
# Only declarations and C: there is no module of this name (it is cimported by .pxd files).
cdef extern from *:
    """
    static CYTHON_INLINE int eloop_is_builtin_method(PyObject *method, int flags) {
        return Py_TYPE(method) == &PyCFunction_Type
            && PyCFunction_GET_SELF(method) != NULL
            && PyCFunction_GET_FLAGS(method) == flags;
    }

    /* method(arg), its result dropped: 0, or -1 with an exception set. */
    static CYTHON_INLINE int eloop_call_with_one(PyObject *method, PyObject *arg) {
        PyObject *result;
        if (eloop_is_builtin_method(method, METH_O)) {
            result = PyCFunction_GET_FUNCTION(method)(PyCFunction_GET_SELF(method), arg);
        } else {
            result = PyObject_CallOneArg(method, arg);
        }
        if (result == NULL) {
            return -1;
        }
        Py_DECREF(result);
        return 0;
    }

    /* method(): its result, or NULL with an exception set. */
    static CYTHON_INLINE PyObject *eloop_call_without_arguments(PyObject *method) {
        if (eloop_is_builtin_method(method, METH_NOARGS)) {
            return PyCFunction_GET_FUNCTION(method)(PyCFunction_GET_SELF(method), NULL);
        }
        return PyObject_CallNoArgs(method);
    }
    """
    int call_with_one "eloop_call_with_one" (object method, object arg) except -1
    object call_without_arguments "eloop_call_without_arguments" (object method)
