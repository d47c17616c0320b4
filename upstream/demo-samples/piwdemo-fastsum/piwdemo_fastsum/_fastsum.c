#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* total(iterable) -> the sum of its integers, computed in C. */
static PyObject *total(PyObject *self, PyObject *arg)
{
    PyObject *iter = PyObject_GetIter(arg);
    if (iter == NULL)
        return NULL;
    long long sum = 0;
    PyObject *item;
    while ((item = PyIter_Next(iter)) != NULL) {
        long long value = PyLong_AsLongLong(item);
        Py_DECREF(item);
        if (value == -1 && PyErr_Occurred()) {
            Py_DECREF(iter);
            return NULL;
        }
        sum += value;
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return NULL;
    return PyLong_FromLongLong(sum);
}

static PyMethodDef methods[] = {
    {"total", total, METH_O, "Sum the integers of an iterable."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastsum", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastsum(void)
{
    return PyModule_Create(&module);
}
