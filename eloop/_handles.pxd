# C types for _handles.py (Cython "pure Python mode": this file augments the .py of the same name).

# Used when compiled in place of Context.run (Handle._run), copy_context (init_handle) and
# Context() (Handle._run, Handle.get_context).
from cpython.contextvars cimport (PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit,
                                  PyContext_New)
from cpython.ref cimport PyObject

# The current context, read without copying it (see _in_empty_context): the `context` member of
# the thread state (struct _ts), public in CPython's headers from 3.7 on.
cdef extern from "Python.h":
    ctypedef struct _ThreadContext "PyThreadState":
        PyObject *context
    _ThreadContext *PyThreadState_Get()

# Used by init_handle, set_gc_visible and set_container_gc_visible (see Handle).
cdef extern from "Python.h":
    int PyObject_GC_IsTracked(object op)
    int PyObject_IS_GC(object op)
    void PyObject_GC_Track(object op)
    void PyObject_GC_UnTrack(object op)

# Handles allocated without counting toward the cyclic GC's next collection (see
# _allocate_uncounted in _handles.py). A GC object is allocated with the GC's header before it:
# `header` bytes, which the module measures and passes in (0 means: keep the standard allocator).
# The object is made as PyType_GenericAlloc makes it (zeroed, GC header included), except that
# it is not counted by the GC, nor tracked: init_handle tracks a handle that must be, and the
# loop's one-shot handles, hidden at once, are spared a track and an untrack.
cdef extern from *:
    """
    static size_t eloop_gc_header_size = 0;

    static PyObject *eloop_uncounted_alloc(PyTypeObject *type, Py_ssize_t nitems) {
        size_t size = eloop_gc_header_size + (size_t)type->tp_basicsize;
        char *memory = (char *)PyObject_Malloc(size);
        PyObject *obj;
        (void)nitems;  /* the types given to eloop_allocate_uncounted have no items */
        if (memory == NULL) {
            return PyErr_NoMemory();
        }
        memset(memory, 0, size);
        obj = (PyObject *)(memory + eloop_gc_header_size);
        return PyObject_Init(obj, type);
    }

    static void eloop_uncounted_free(void *obj) {
        PyObject_GC_UnTrack(obj);  /* (as PyObject_GC_Del does: a no-op if untracked) */
        PyObject_Free((char *)obj - eloop_gc_header_size);
    }

    static int eloop_allocate_uncounted(PyObject *type_object, size_t header) {
        PyTypeObject *type = (PyTypeObject *)type_object;
        if (header == 0 || type->tp_itemsize != 0 || !PyType_IS_GC(type)
                || (eloop_gc_header_size != 0 && header != eloop_gc_header_size)) {
            return 0;
        }
        eloop_gc_header_size = header;
        type->tp_alloc = eloop_uncounted_alloc;
        type->tp_free = eloop_uncounted_free;
        return 1;
    }
    """
    bint _allocate_uncounted_c "eloop_allocate_uncounted" (object type_object, size_t header)

cdef bint _COMPILED
cdef tuple _NO_ARGS


cdef class Runnable:
    cdef public bint _cancelled

    cpdef _run(self)


cdef class Handle(Runnable):
    cdef public object _callback
    cdef public object _args
    cdef public object _loop
    cdef public bint _oneshot
    cdef public object _source_traceback
    cdef public object _repr
    cdef public object _context
    cdef object __weakref__

    cpdef _run(self)
    cpdef cancel(self)
    cpdef _forget(self)


cdef class TimerHandle(Handle):
    cdef public bint _scheduled
    cdef public object _when
    cdef public double _due

    cpdef cancel(self)


cdef inline bint _in_empty_context() except -1

cpdef Handle init_handle(Handle handle, callback, args, loop, context, bint debug,
                         bint oneshot=*, bint waits=*)
cpdef TimerHandle init_timer(TimerHandle timer, when, callback, args, loop, context,
                             bint debug, bint oneshot=*)
cpdef set_gc_visible(Handle handle, bint visible)
cpdef set_container_gc_visible(object container, bint visible)
