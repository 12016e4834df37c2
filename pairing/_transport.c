/* Optimal assignment of mentees to mentors with capacities: successive shortest paths.
 *
 * The problem: each mentee (a row) goes to at most one mentor (a column); mentor j takes at
 * most cap[j] mentees; a cell is acceptable when its score is >= thr and is then worth
 * w = score * scale + offset (> 0); maximise the total worth.  As a minimum-cost problem:
 * every row is assigned exactly once, to a mentor at cost -w or to a dummy column ("not
 * paired") at cost 0 that never fills up.
 *
 * Rows are added one at a time; each takes a shortest augmenting path (Dijkstra on reduced
 * costs, dense over the columns, as in the Jonker-Volgenant / Crouse algorithm scipy uses).
 * A full column is not split into copies, one per place (what scipy and lapx need and what
 * makes them slow on capacity 2): reaching it makes every row assigned to it scannable at
 * the same distance.  The potentials kept along the way are LP duals:
 *   u[i] + v[j] <= cost(i, j) on every acceptable cell, u[i] <= 0 (the dummy),
 *   v[j] <= 0, and v[j] < 0 only for a full column (or one with no places),
 * with equality on every assigned cell, so the caller can check the optimum independently
 * (pairing/engine.py does in its tests).
 *
 * No Python objects are touched while solving: the GIL is released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Sentinels, far from any real value (assign() refuses weights with
 * (32767 * scale + offset) * (rows + columns + 2) >= 2**60, which keeps every potential and
 * distance far below them) and far from overflow when added. */
#define FORBID (INT64_MAX / 8) /* cost of a cell that is not acceptable */
#define BIG (INT64_MAX / 4)    /* penalty of a settled column; distance not yet reached */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) /* ifunc */
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

typedef struct {
    const int16_t *A; /* R x C scores, row-major (rows = mentees) */
    Py_ssize_t R, C;
    const int64_t *cap;
    int64_t thr, scale, offset;
    int64_t *col4row; /* out: mentor per row, -1 = not paired */
    int64_t *u, *v;   /* out: duals (rows, columns) */
} problem;

/* Relax every column from row i: the hot loop, branch-free so that it vectorises.  Settled
 * columns have vv = -BIG, so nothing beats their distance. */
CLONES static void relax(const int16_t *restrict row, Py_ssize_t C, int64_t base, Py_ssize_t i, int64_t thr,
                         int64_t scale, int64_t offset, const int64_t *restrict vv, int64_t *restrict dist,
                         int64_t *restrict path)
{
    for (Py_ssize_t j = 0; j < C; j++) {
        int64_t a = row[j];
        int64_t c = a >= thr ? -(a * scale + offset) : FORBID;
        int64_t r = base + c - vv[j];
        int lt = r < dist[j];
        dist[j] = lt ? r : dist[j];
        path[j] = lt ? (int64_t)i : path[j];
    }
}

CLONES static int64_t lowest_key(const int64_t *restrict dist, const int64_t *restrict pen, Py_ssize_t C)
{
    int64_t m = BIG;
    for (Py_ssize_t j = 0; j < C; j++) {
        int64_t k = dist[j] + pen[j];
        m = k < m ? k : m;
    }
    return m;
}

/* Returns 0, or -1 when out of memory. */
static int solve(problem *p)
{
    const Py_ssize_t R = p->R, C = p->C;
    const int16_t *A = p->A;
    const int64_t thr = p->thr > 0 ? p->thr : 0; /* -1 marks a forbidden cell: never acceptable */
    const int64_t scale = p->scale, offset = p->offset;
    int64_t *u = p->u, *v = p->v, *col4row = p->col4row;
    int rc = -1;
    /* Places per column, read once: the caller's array is not read again while the GIL is
     * released (another thread, or an array shared with an output, cannot change them). */
    int64_t *cap = malloc(sizeof(int64_t) * (C + 1));
    if (!cap)
        return -1;
    for (Py_ssize_t j = 0; j < C; j++)
        cap[j] = p->cap[j] <= 0 ? 0 : (p->cap[j] < R ? p->cap[j] : R);

    int64_t *dist = malloc(sizeof(int64_t) * (C + 1));
    int64_t *path = malloc(sizeof(int64_t) * (C + 1)); /* row that reached column j */
    int64_t *vv = malloc(sizeof(int64_t) * (C + 1));   /* v, or -BIG once settled */
    int64_t *pen = malloc(sizeof(int64_t) * (C + 1));  /* 0, or BIG once settled */
    Py_ssize_t *settled = malloc(sizeof(Py_ssize_t) * (C + 1));
    Py_ssize_t *count = calloc(C + 1, sizeof(Py_ssize_t));
    Py_ssize_t *first = malloc(sizeof(Py_ssize_t) * (C + 1)); /* rows of column j: members[first[j] .. + count[j]] */
    Py_ssize_t *via = malloc(sizeof(Py_ssize_t) * (R + 1));   /* column a scanned row was reached through */
    Py_ssize_t *scanned = malloc(sizeof(Py_ssize_t) * (R + 1));
    Py_ssize_t *stack = malloc(sizeof(Py_ssize_t) * (R + 1));
    char *pending = calloc(R + 1, 1);
    Py_ssize_t *members = NULL;
    Py_ssize_t total = 0;
    if (!dist || !path || !vv || !pen || !settled || !count || !first || !via || !scanned || !stack || !pending)
        goto done;
    for (Py_ssize_t j = 0; j < C; j++) {
        first[j] = total;
        total += cap[j];
    }
    members = malloc(sizeof(Py_ssize_t) * (total + 1));
    if (!members)
        goto done;

    for (Py_ssize_t j = 0; j < C; j++)
        v[j] = 0;
    /* Row reduction: u[i] = the row's least cost (0, the dummy's, when nothing is
     * acceptable); a row whose cheapest column still has room takes it at once (a tight
     * cell: the duals stay feasible); the others wait for an augmenting path. */
    for (Py_ssize_t i = 0; i < R; i++) {
        const int16_t *row = A + (size_t)i * C;
        int16_t best = -1;
        Py_ssize_t bj = -1;
        for (Py_ssize_t j = 0; j < C; j++) {
            if (row[j] > best && cap[j] > 0) {
                best = row[j];
                bj = j;
            }
        }
        col4row[i] = -1;
        u[i] = 0;
        if (bj < 0 || best < thr)
            continue;
        u[i] = -((int64_t)best * scale + offset);
        if (count[bj] < cap[bj]) {
            members[first[bj] + count[bj]++] = i;
            col4row[i] = bj;
        } else {
            pending[i] = 1;
        }
    }

    for (Py_ssize_t cur = 0; cur < R; cur++) {
        if (!pending[cur])
            continue;
        Py_ssize_t n_settled = 0, n_scanned = 0, n_stack = 0, sink = -1;
        for (Py_ssize_t j = 0; j < C; j++) {
            dist[j] = BIG;
            vv[j] = v[j];
            pen[j] = 0;
        }
        int64_t dd = BIG, min_val = 0; /* the dummy's distance */
        Py_ssize_t dpath = -1;
        stack[n_stack++] = cur;
        via[cur] = -1;
        for (;;) {
            while (n_stack) {
                Py_ssize_t i = stack[--n_stack];
                scanned[n_scanned++] = i;
                int64_t base = min_val - u[i];
                relax(A + (size_t)i * C, C, base, i, thr, scale, offset, vv, dist, path);
                if (base < dd) {
                    dd = base;
                    dpath = i;
                }
            }
            /* Settle the nearest column; among equals, one with room ends the search (a real
             * column before the dummy). */
            int64_t m = lowest_key(dist, pen, C);
            Py_ssize_t j = -1, full = -1;
            if (m <= dd) {
                for (Py_ssize_t k = 0; k < C; k++) {
                    if (dist[k] + pen[k] == m) {
                        if (count[k] < cap[k]) {
                            j = k;
                            break;
                        }
                        if (full < 0)
                            full = k;
                    }
                }
            }
            if (j >= 0 || m > dd || (m == dd && j < 0)) {
                if (j < 0) { /* the dummy: this row ends unpaired, or someone on the path does */
                    min_val = dd;
                    sink = C;
                    path[C] = dpath;
                    break;
                }
                min_val = m;
                settled[n_settled++] = j;
                sink = j;
                break;
            }
            j = full;
            min_val = m;
            settled[n_settled++] = j;
            vv[j] = -BIG;
            pen[j] = BIG;
            for (Py_ssize_t q = 0; q < count[j]; q++) {
                Py_ssize_t i = members[first[j] + q];
                via[i] = j;
                stack[n_stack++] = i;
            }
        }
        /* Potentials: keep every reduced cost >= 0 and assigned cells at 0. */
        u[cur] += min_val;
        for (Py_ssize_t k = 0; k < n_scanned; k++) {
            Py_ssize_t i = scanned[k];
            if (i != cur)
                u[i] += min_val - dist[via[i]];
        }
        for (Py_ssize_t k = 0; k < n_settled; k++) {
            Py_ssize_t j = settled[k];
            v[j] -= min_val - dist[j];
        }
        /* Augment: each row on the path moves to the column it reached. */
        Py_ssize_t j = sink;
        for (;;) {
            Py_ssize_t i = (Py_ssize_t)path[j];
            Py_ssize_t prev = via[i];
            if (j != C) {
                members[first[j] + count[j]++] = i;
                col4row[i] = j;
            } else {
                col4row[i] = -1;
            }
            if (i == cur)
                break;
            /* i leaves prev, a full real column */
            Py_ssize_t *mem = members + first[prev];
            for (Py_ssize_t q = 0; q < count[prev]; q++) {
                if (mem[q] == i) {
                    mem[q] = mem[--count[prev]];
                    break;
                }
            }
            j = prev;
        }
    }
    /* A column with no places takes nobody whatever its price: price it so that none of its
     * cells beats the duals, which then prove the optimum on the whole grid. */
    for (Py_ssize_t j = 0; j < C; j++) {
        if (cap[j] > 0)
            continue;
        int64_t low = 0;
        for (Py_ssize_t i = 0; i < R; i++) {
            int64_t a = A[(size_t)i * C + j];
            if (a >= thr) {
                int64_t r = -(a * scale + offset) - u[i];
                low = r < low ? r : low;
            }
        }
        v[j] = low;
    }
    rc = 0;
done:
    free(dist);
    free(path);
    free(vv);
    free(pen);
    free(settled);
    free(count);
    free(first);
    free(via);
    free(scanned);
    free(stack);
    free(pending);
    free(members);
    free(cap);
    return rc;
}

static int get(PyObject *obj, Py_buffer *view, int writable, const char *fmt, Py_ssize_t n, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    Py_ssize_t item = fmt[0] == 'h' ? 2 : 8;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    int ok_fmt = fmt[0] == 'h' ? strcmp(f, "h") == 0 : (strcmp(f, "q") == 0 || strcmp(f, "l") == 0);
    if (!ok_fmt || view->itemsize != item || view->len != n * item) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd contiguous %s values", what, n, fmt[0] == 'h' ? "int16" : "int64");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(assign_doc,
"assign(scores, n_rows, n_cols, cap, thr, scale, offset, col4row, u, v)\n\n"
"scores: n_rows x n_cols int16, C order (rows = mentees, columns = mentors); cap: int64 per\n"
"column; col4row, u (n_rows) and v (n_cols): int64 arrays the result is written to.");

static PyObject *assign(PyObject *self, PyObject *args)
{
    PyObject *o_a, *o_cap, *o_out, *o_u, *o_v;
    Py_ssize_t R, C;
    long long thr, scale, offset;
    if (!PyArg_ParseTuple(args, "OnnOLLLOOO", &o_a, &R, &C, &o_cap, &thr, &scale, &offset, &o_out, &o_u, &o_v))
        return NULL;
    if (R < 0 || C < 0 || R > PY_SSIZE_T_MAX / 16 || C > PY_SSIZE_T_MAX / 16 || (C > 0 && R > PY_SSIZE_T_MAX / 8 / C)) {
        PyErr_SetString(PyExc_ValueError, "bad size");
        return NULL;
    }
    /* Weights must be positive and small enough for exact int64 potentials. */
    if (scale < 1 || offset < 1 || scale > (1LL << 40) || offset > (1LL << 50)
        || (double)(32767.0 * (double)scale + (double)offset) * (double)(R + C + 2) >= 1152921504606846976.0 /* 2**60 */) {
        PyErr_SetString(PyExc_ValueError, "scale and offset must be >= 1 and the weights small enough for exact potentials");
        return NULL;
    }
    Py_buffer a, cap, out, u, v;
    if (get(o_a, &a, 0, "h", R * C, "scores") < 0)
        return NULL;
    if (get(o_cap, &cap, 0, "q", C, "cap") < 0)
        goto e1;
    if (get(o_out, &out, 1, "q", R, "col4row") < 0)
        goto e2;
    if (get(o_u, &u, 1, "q", R, "u") < 0)
        goto e3;
    if (get(o_v, &v, 1, "q", C, "v") < 0)
        goto e4;
    problem p = {a.buf, R, C, cap.buf, thr, scale, offset, out.buf, u.buf, v.buf};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = solve(&p);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    PyBuffer_Release(&u);
    PyBuffer_Release(&out);
    PyBuffer_Release(&cap);
    PyBuffer_Release(&a);
    if (rc < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
e4:
    PyBuffer_Release(&u);
e3:
    PyBuffer_Release(&out);
e2:
    PyBuffer_Release(&cap);
e1:
    PyBuffer_Release(&a);
    return NULL;
}

static PyMethodDef methods[] = {
    {"assign", assign, METH_VARARGS, assign_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_transport",
    "Capacity-aware optimal assignment with LP duals (see pairing/_transport.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__transport(void)
{
    return PyModule_Create(&module);
}
