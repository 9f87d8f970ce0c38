/* OTLP ExportTraceServiceRequest bytes → RawSpan records, in C.
 *
 * Why: converting upb's message wrappers to Python values cost ~16 µs a span on the ingest
 * hot path (a wrapper object per attribute, per AnyValue, per access). Reading the protobuf
 * wire format directly costs a fraction of that. `collector/decode.py` stays the reference:
 * this module must yield exactly what its `_spans_from_request` yields (tests/unit/
 * test_native_decode.py checks every corpus payload and random spans), and it declines
 * (raises ValueError) on anything it does not read the way upb does — malformed bytes,
 * invalid UTF-8, groups — so the caller falls back to the reference for that body.
 *
 * Records are built without running the dataclasses' Python __init__: the instance is
 * allocated by its type and each slot is set through its member descriptor, which is what
 * a frozen dataclass's own __init__ ends up doing, minus ~2 µs of Python per span.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_REASONS 5
#define MAX_DEPTH 64 /* nested AnyValues; upb's own limit is 100, deeper bodies go to the reference */

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} Buf;

/* One record type: the class and its slot descriptors, in constructor order. */
typedef struct {
    PyTypeObject *type;
    PyObject *slots[16];
    int n;
} Record;

static Record raw_span, span_event, span_link;

/* --- wire format ----------------------------------------------------------------------- */

static int fail(const char *what) {
    PyErr_Format(PyExc_ValueError, "native OTLP decoder: %s", what);
    return -1;
}

static int read_varint(Buf *b, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return fail("truncated varint");
        uint8_t byte = *b->p++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 0;
        }
    }
    return fail("varint longer than 10 bytes");
}

static int read_fixed64(Buf *b, uint64_t *out) {
    if (b->end - b->p < 8) return fail("truncated fixed64");
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | b->p[i];
    b->p += 8;
    *out = value;
    return 0;
}

static int read_len(Buf *b, Buf *sub) {
    uint64_t len;
    if (read_varint(b, &len) < 0) return -1;
    if (len > (uint64_t)(b->end - b->p)) return fail("length past the end of the message");
    sub->p = b->p;
    sub->end = b->p + len;
    b->p += len;
    return 0;
}

/* Next tag; 0 at the end of the buffer, 1 with a field, -1 on error. */
static int next_field(Buf *b, uint32_t *field, uint32_t *wire_type) {
    if (b->p >= b->end) return 0;
    uint64_t tag;
    if (read_varint(b, &tag) < 0) return -1;
    *field = (uint32_t)(tag >> 3);
    *wire_type = (uint32_t)(tag & 7);
    if (*field == 0 || tag > UINT32_MAX) return fail("invalid field number");
    return 1;
}

static int skip_field(Buf *b, uint32_t wire_type) {
    uint64_t ignored;
    Buf sub;
    switch (wire_type) {
    case WT_VARINT: return read_varint(b, &ignored);
    case WT_FIXED64: return read_fixed64(b, &ignored);
    case WT_LEN: return read_len(b, &sub);
    case WT_FIXED32:
        if (b->end - b->p < 4) return fail("truncated fixed32");
        b->p += 4;
        return 0;
    default: return fail("group or unknown wire type");
    }
}

/* --- values -------------------------------------------------------------------------- */

static PyObject *utf8(Buf s) {
    return PyUnicode_DecodeUTF8((const char *)s.p, s.end - s.p, NULL);
}

static PyObject *hex(Buf s) {
    static const char digits[] = "0123456789abcdef";
    Py_ssize_t n = s.end - s.p;
    PyObject *out = PyUnicode_New(n * 2, 127);
    if (out == NULL) return NULL;
    Py_UCS1 *w = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        w[2 * i] = digits[s.p[i] >> 4];
        w[2 * i + 1] = digits[s.p[i] & 15];
    }
    return out;
}

static PyObject *base64(Buf s) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    Py_ssize_t n = s.end - s.p;
    PyObject *out = PyUnicode_New((n + 2) / 3 * 4, 127);
    if (out == NULL) return NULL;
    Py_UCS1 *w = PyUnicode_1BYTE_DATA(out);
    const uint8_t *p = s.p;
    Py_ssize_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = alphabet[(v >> 6) & 63];
        *w++ = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    return out;
}

static int attributes_into(PyObject *dict, Buf b, int depth);
static PyObject *any_value(Buf b, int depth);

static int append_value(PyObject *list, Buf b, int depth) {
    PyObject *item = any_value(b, depth + 1);
    if (item == NULL) return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *array_value(Buf b, int depth) {
    PyObject *list = PyList_New(0);
    uint32_t field, wt;
    int more;
    while (list && (more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        int rc;
        if (more < 0) rc = -1;
        else if (field == 1 && wt == WT_LEN) rc = read_len(&b, &sub) < 0 ? -1 : append_value(list, sub, depth);
        else rc = skip_field(&b, wt);
        if (rc < 0) Py_CLEAR(list);
    }
    return list;
}

static PyObject *new_kvlist(Buf b, int depth) {
    PyObject *dict = PyDict_New();
    if (dict != NULL && attributes_into(dict, b, depth + 1) < 0) Py_CLEAR(dict);
    return dict;
}

static int merge_value(PyObject *value, uint32_t field, Buf b, int depth) {
    if (field == 6) return attributes_into(value, b, depth + 1);
    PyObject *items = array_value(b, depth);
    if (items == NULL) return -1;
    Py_ssize_t n = PyList_GET_SIZE(value);
    int rc = PyList_SetSlice(value, n, n, items);
    Py_DECREF(items);
    return rc;
}

/* An AnyValue's oneof: the last member on the wire wins; a message member repeated without
 * another member between merges (its values concatenate), as protobuf's merge rule says. */
static PyObject *any_value(Buf b, int depth) {
    if (depth > MAX_DEPTH) {
        fail("AnyValue nested too deep");
        return NULL;
    }
    PyObject *value = Py_NewRef(Py_None);
    uint32_t field, wt, kind = 0;
    int more;
    while ((more = next_field(&b, &field, &wt)) != 0) {
        uint64_t v;
        Buf sub;
        PyObject *next = NULL;
        if (more < 0) goto error;
        if ((field == 1 || field == 7) && wt == WT_LEN) {
            if (read_len(&b, &sub) < 0) goto error;
            next = field == 1 ? utf8(sub) : base64(sub);
        } else if ((field == 2 || field == 3 || field == 8) && wt == WT_VARINT) {
            if (read_varint(&b, &v) < 0) goto error;
            next = field == 2 ? PyBool_FromLong(v != 0)
                 : field == 3 ? PyLong_FromLongLong((int64_t)v)
                              : PyLong_FromLong((int32_t)v);
        } else if (field == 4 && wt == WT_FIXED64) {
            if (read_fixed64(&b, &v) < 0) goto error;
            double d;
            memcpy(&d, &v, sizeof d);
            next = PyFloat_FromDouble(d);
        } else if ((field == 5 || field == 6) && wt == WT_LEN) {
            if (read_len(&b, &sub) < 0) goto error;
            if (kind == field) { /* merge into the value already built */
                if (merge_value(value, field, sub, depth) < 0) goto error;
                continue;
            }
            next = field == 5 ? array_value(sub, depth) : new_kvlist(sub, depth);
        } else {
            if (skip_field(&b, wt) < 0) goto error;
            continue;
        }
        if (next == NULL) goto error;
        Py_SETREF(value, next);
        kind = field;
    }
    return value;
error:
    Py_DECREF(value);
    return NULL;
}

/* A KeyValue's key and value bytes (value.p NULL when it has none). A KeyValue whose value message
 * is repeated (protobuf would merge the two) is declined: no exporter writes one. */
static int split_key_value(Buf b, Buf *key, Buf *value) {
    uint32_t field, wt;
    int more;
    *key = (Buf){b.p, b.p};
    *value = (Buf){NULL, NULL};
    while ((more = next_field(&b, &field, &wt)) != 0) {
        if (more < 0) return -1;
        if (field == 1 && wt == WT_LEN) {
            if (read_len(&b, key) < 0) return -1;
        } else if (field == 2 && wt == WT_LEN) {
            if (value->p != NULL) return fail("repeated KeyValue value");
            if (read_len(&b, value) < 0) return -1;
        } else if (skip_field(&b, wt) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One KeyValue into `dict`: dict[key] = value, as the reference's loop does (a repeated key
 * keeps its first position and its last value). */
static int key_value_into(PyObject *dict, Buf b, int depth) {
    Buf key, value_bytes;
    if (split_key_value(b, &key, &value_bytes) < 0) return -1;
    PyObject *name = utf8(key);
    if (name == NULL) return -1;
    PyObject *value = value_bytes.p ? any_value(value_bytes, depth) : Py_NewRef(Py_None);
    int rc = value ? PyDict_SetItem(dict, name, value) : -1;
    Py_DECREF(name);
    Py_XDECREF(value);
    return rc;
}

/* The repeated KeyValue field (`field_no`) of a message, added to `dict` in wire order. */
static int key_values_into(PyObject *dict, Buf b, uint32_t field_no, int depth) {
    uint32_t field, wt;
    int more;
    while ((more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        if (more < 0) return -1;
        if (field == field_no && wt == WT_LEN) {
            if (read_len(&b, &sub) < 0 || key_value_into(dict, sub, depth) < 0) return -1;
        } else if (skip_field(&b, wt) < 0) {
            return -1;
        }
    }
    return 0;
}

static int attributes_into(PyObject *dict, Buf b, int depth) {
    return key_values_into(dict, b, 1, depth);
}

/* --- records ------------------------------------------------------------------------- */

/* A record instance with its slots set from `values` (references stolen, all of them). */
static PyObject *make_record(Record *rec, PyObject **values) {
    PyObject *obj = rec->type->tp_alloc(rec->type, 0);
    for (int i = 0; i < rec->n; i++) {
        if (obj != NULL && values[i] != NULL) {
            descrsetfunc set = Py_TYPE(rec->slots[i])->tp_descr_set;
            if (set(rec->slots[i], obj, values[i]) < 0) Py_CLEAR(obj);
        }
        if (values[i] == NULL) Py_CLEAR(obj);
    }
    for (int i = 0; i < rec->n; i++) Py_XDECREF(values[i]);
    return obj;
}

static PyObject *span_event_record(Buf b) {
    uint64_t time_ns = 0;
    Buf name = {b.p, b.p};
    PyObject *attrs = PyDict_New();
    uint32_t field, wt;
    int more;
    while (attrs && (more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        int rc;
        if (more < 0) rc = -1;
        else if (field == 1 && wt == WT_FIXED64) rc = read_fixed64(&b, &time_ns);
        else if (field == 2 && wt == WT_LEN) rc = read_len(&b, &name);
        else if (field == 3 && wt == WT_LEN) rc = read_len(&b, &sub) < 0 ? -1 : key_value_into(attrs, sub, 0);
        else rc = skip_field(&b, wt);
        if (rc < 0) Py_CLEAR(attrs);
    }
    if (attrs == NULL) return NULL;
    PyObject *values[3] = {utf8(name), PyLong_FromUnsignedLongLong(time_ns), attrs};
    return make_record(&span_event, values);
}

static PyObject *span_link_record(Buf b) {
    Buf trace_id = {b.p, b.p}, span_id = {b.p, b.p};
    PyObject *attrs = PyDict_New();
    uint32_t field, wt;
    int more;
    while (attrs && (more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        int rc;
        if (more < 0) rc = -1;
        else if (field == 1 && wt == WT_LEN) rc = read_len(&b, &trace_id);
        else if (field == 2 && wt == WT_LEN) rc = read_len(&b, &span_id);
        else if (field == 4 && wt == WT_LEN) rc = read_len(&b, &sub) < 0 ? -1 : key_value_into(attrs, sub, 0);
        else rc = skip_field(&b, wt);
        if (rc < 0) Py_CLEAR(attrs);
    }
    if (attrs == NULL) return NULL;
    PyObject *values[3] = {hex(trace_id), hex(span_id), attrs};
    return make_record(&span_link, values);
}

/* Everything one Span message says, before it becomes a record. */
typedef struct {
    Buf trace_id, span_id, parent_span_id, name, status_message;
    uint64_t start_ns, end_ns;
    int32_t kind, status_code;
    PyObject *attrs, *events, *links;
} SpanFields;

static int read_status(Buf b, SpanFields *s) {
    uint32_t field, wt;
    int more;
    while ((more = next_field(&b, &field, &wt)) != 0) {
        uint64_t v;
        if (more < 0) return -1;
        if (field == 2 && wt == WT_LEN) {
            if (read_len(&b, &s->status_message) < 0) return -1;
        } else if (field == 3 && wt == WT_VARINT) {
            if (read_varint(&b, &v) < 0) return -1;
            s->status_code = (int32_t)v;
        } else if (skip_field(&b, wt) < 0) {
            return -1;
        }
    }
    return 0;
}

static int append_record(PyObject **list, PyObject *record) {
    if (record == NULL) return -1;
    if (*list == NULL && (*list = PyList_New(0)) == NULL) {
        Py_DECREF(record);
        return -1;
    }
    int rc = PyList_Append(*list, record);
    Py_DECREF(record);
    return rc;
}

static int read_span_field(Buf *b, uint32_t field, uint32_t wt, SpanFields *s) {
    Buf sub;
    uint64_t v;
    if (wt == WT_LEN) {
        switch (field) {
        case 1: return read_len(b, &s->trace_id);
        case 2: return read_len(b, &s->span_id);
        case 4: return read_len(b, &s->parent_span_id);
        case 5: return read_len(b, &s->name);
        case 9: return read_len(b, &sub) < 0 ? -1 : key_value_into(s->attrs, sub, 0);
        case 11: return read_len(b, &sub) < 0 ? -1 : append_record(&s->events, span_event_record(sub));
        case 13: return read_len(b, &sub) < 0 ? -1 : append_record(&s->links, span_link_record(sub));
        case 15: return read_len(b, &sub) < 0 ? -1 : read_status(sub, s);
        }
    } else if (wt == WT_FIXED64 && (field == 7 || field == 8)) {
        return read_fixed64(b, field == 7 ? &s->start_ns : &s->end_ns);
    } else if (wt == WT_VARINT && field == 6) {
        if (read_varint(b, &v) < 0) return -1;
        s->kind = (int32_t)v;
        return 0;
    }
    return skip_field(b, wt);
}

static const char *id_problem(SpanFields *s) {
    static const uint8_t zeros[16] = {0};
    Py_ssize_t trace = s->trace_id.end - s->trace_id.p, span = s->span_id.end - s->span_id.p;
    Py_ssize_t parent = s->parent_span_id.end - s->parent_span_id.p;
    if (trace != 16 || memcmp(s->trace_id.p, zeros, 16) == 0)
        return "trace_id must be 16 bytes (32 hex characters) and not all zero";
    if (span != 8 || memcmp(s->span_id.p, zeros, 8) == 0)
        return "span_id must be 8 bytes (16 hex characters) and not all zero";
    if (parent != 0 && parent != 8) return "parent_span_id must be empty or 8 bytes (16 hex characters)";
    return NULL;
}

/* 2300-01-01T00:00:00Z in ns; check.py's _END_OF_STORAGE_NS and _TIME_PROBLEM say the same. */
#define END_OF_STORAGE_NS 10413792000000000000ULL
#define AFTER_STORAGE " is after 2299-12-31, the last day storage holds; send the time in Unix nanoseconds"

/* Why a span cannot be stored, as check.py's span_problem says it, or NULL. */
static const char *span_problem(SpanFields *s) {
    const char *problem = id_problem(s);
    if (problem) return problem;
    if (s->start_ns >= END_OF_STORAGE_NS) return "start_time_unix_nano" AFTER_STORAGE;
    if (s->end_ns >= END_OF_STORAGE_NS) return "end_time_unix_nano" AFTER_STORAGE;
    return NULL;
}

static PyObject *tuple_of(PyObject *list) {
    return list ? PyList_AsTuple(list) : PyTuple_New(0);
}

static PyObject *span_record(SpanFields *s, PyObject *resource, PyObject *scope_name, PyObject *scope_version) {
    PyObject *values[15] = {
        hex(s->trace_id), hex(s->span_id), hex(s->parent_span_id), utf8(s->name),
        PyLong_FromLong(s->kind), PyLong_FromUnsignedLongLong(s->start_ns), PyLong_FromUnsignedLongLong(s->end_ns),
        PyLong_FromLong(s->status_code), utf8(s->status_message), Py_NewRef(s->attrs), Py_NewRef(resource),
        Py_NewRef(scope_name), Py_NewRef(scope_version), tuple_of(s->events), tuple_of(s->links),
    };
    return make_record(&raw_span, values);
}

/* --- the request --------------------------------------------------------------------- */

typedef struct {
    PyObject *spans, *reasons;
    Py_ssize_t rejected;
} Decoded;

static int reject(Decoded *out, SpanFields *s, const char *problem) {
    out->rejected++;
    if (PyList_GET_SIZE(out->reasons) >= MAX_REASONS) return 0;
    PyObject *name = utf8(s->name);
    if (name == NULL) return -1;
    PyObject *reason = PyUnicode_FromFormat("span %R: %s", name, problem);
    Py_DECREF(name);
    if (reason == NULL) return -1;
    int present = PySequence_Contains(out->reasons, reason);
    int rc = present < 0 ? -1 : present ? 0 : PyList_Append(out->reasons, reason);
    Py_DECREF(reason);
    return rc;
}

static int read_span(Buf b, Decoded *out, PyObject *resource, PyObject *scope_name, PyObject *scope_version) {
    SpanFields s = {0};
    s.trace_id = s.span_id = s.parent_span_id = s.name = s.status_message = (Buf){b.p, b.p};
    if ((s.attrs = PyDict_New()) == NULL) return -1;
    uint32_t field, wt;
    int more, rc = 0;
    while (rc == 0 && (more = next_field(&b, &field, &wt)) != 0)
        rc = more < 0 ? -1 : read_span_field(&b, field, wt, &s);
    if (rc == 0) {
        const char *problem = span_problem(&s);
        if (problem) {
            rc = reject(out, &s, problem);
        } else {
            PyObject *record = span_record(&s, resource, scope_name, scope_version);
            rc = append_record(&out->spans, record);
        }
    }
    Py_XDECREF(s.attrs);
    Py_XDECREF(s.events);
    Py_XDECREF(s.links);
    return rc;
}

/* The scope's name and version (InstrumentationScope fields 1 and 2) of a ScopeSpans, in one pass;
 * a repeated scope message merges, so the last of each wins. */
static int read_scope(Buf b, Buf *name, Buf *version) {
    uint32_t field, wt;
    int more;
    while ((more = next_field(&b, &field, &wt)) != 0) {
        Buf scope;
        if (more < 0) return -1;
        if (field != 1 || wt != WT_LEN) {
            if (skip_field(&b, wt) < 0) return -1;
            continue;
        }
        if (read_len(&b, &scope) < 0) return -1;
        uint32_t inner, inner_wt;
        int more_inner;
        while ((more_inner = next_field(&scope, &inner, &inner_wt)) != 0) {
            int rc = more_inner < 0 ? -1
                   : (inner == 1 || inner == 2) && inner_wt == WT_LEN ? read_len(&scope, inner == 1 ? name : version)
                   : skip_field(&scope, inner_wt);
            if (rc < 0) return -1;
        }
    }
    return 0;
}

static int read_scope_spans(Buf b, Decoded *out, PyObject *resource) {
    Buf name = {b.p, b.p}, version = {b.p, b.p};
    if (read_scope(b, &name, &version) < 0) return -1;
    PyObject *scope_name = utf8(name), *scope_version = utf8(version);
    int rc = scope_name && scope_version ? 0 : -1;
    uint32_t field, wt;
    int more;
    while (rc == 0 && (more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        if (more < 0) rc = -1;
        else if (field == 2 && wt == WT_LEN) rc = read_len(&b, &sub) < 0 ? -1 : read_span(sub, out, resource, scope_name, scope_version);
        else rc = skip_field(&b, wt);
    }
    Py_XDECREF(scope_name);
    Py_XDECREF(scope_version);
    return rc;
}

/* A ResourceSpans: its resource first (wherever it stands on the wire), shared by its spans. */
static int read_resource_spans(Buf b, Decoded *out) {
    PyObject *resource = PyDict_New();
    if (resource == NULL) return -1;
    uint32_t field, wt;
    int more, rc = 0;
    Buf walk = b;
    while (rc == 0 && (more = next_field(&walk, &field, &wt)) != 0) {
        Buf sub;
        if (more < 0) rc = -1;
        else if (field == 1 && wt == WT_LEN) rc = read_len(&walk, &sub) < 0 ? -1 : key_values_into(resource, sub, 1, 0);
        else rc = skip_field(&walk, wt);
    }
    while (rc == 0 && (more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        if (more < 0) rc = -1;
        else if (field == 2 && wt == WT_LEN) rc = read_len(&b, &sub) < 0 ? -1 : read_scope_spans(sub, out, resource);
        else rc = skip_field(&b, wt);
    }
    Py_DECREF(resource);
    return rc;
}

static PyObject *decode_traces(PyObject *self, PyObject *arg) {
    (void)self;
    if (raw_span.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "collector._otlp.configure() was not called");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Buf b = {view.buf, (const uint8_t *)view.buf + view.len};
    Decoded out = {PyList_New(0), PyList_New(0), 0};
    int rc = out.spans && out.reasons ? 0 : -1;
    uint32_t field, wt;
    int more;
    while (rc == 0 && (more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        if (more < 0) rc = -1;
        else if (field == 1 && wt == WT_LEN) rc = read_len(&b, &sub) < 0 ? -1 : read_resource_spans(sub, &out);
        else rc = skip_field(&b, wt);
    }
    PyBuffer_Release(&view);
    PyObject *result = rc == 0 ? Py_BuildValue("(OnO)", out.spans, out.rejected, out.reasons) : NULL;
    if (result == NULL && !PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb); /* every decoding failure is a ValueError to the caller */
        PyErr_Format(PyExc_ValueError, "native OTLP decoder declined the body: %S", value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    Py_XDECREF(out.spans);
    Py_XDECREF(out.reasons);
    return result;
}

/* --- token counts to check before the ack ----------------------------------------------- */

/* The count and cost attribute names (collector/counts.py CHECKED_KEYS), sorted by length: an
 * attribute name is compared only with the few names of its length, keys [first[n], first[n + 1]). */
#define MAX_KEY_LEN 128
#define MAX_COUNT_KEYS 256
static PyObject *count_key_bytes; /* a tuple of bytes, kept alive for the pointers below */
static const char *count_keys[MAX_COUNT_KEYS];
static uint8_t count_key_is_cost[MAX_COUNT_KEYS];
static int first_of_length[MAX_KEY_LEN + 2];

/* -1: not a checked key; 0: a token count; 1: a cost. */
static int checked_key(Buf key) {
    Py_ssize_t n = key.end - key.p;
    if (n > MAX_KEY_LEN) return -1;
    for (int i = first_of_length[n]; i < first_of_length[n + 1]; i++)
        if (memcmp(count_keys[i], key.p, n) == 0) return count_key_is_cost[i];
    return -1;
}

typedef struct {
    PyObject *found; /* [(span ordinal, key, value)] */
    Py_ssize_t ordinal;
    Py_ssize_t span_start; /* len(found) when this span began */
    uint64_t max_count;
    double max_cost;
} Scan;

/* An AnyValue that is surely fine: one int or finite double in [0, max]. Anything else (text, a
 * negative, NaN, a huge number, several values) goes to Python to be judged. */
static int plainly_counted(Buf b, uint64_t max_count) {
    uint32_t field, wt;
    int more, seen = 0, fine = 0;
    while ((more = next_field(&b, &field, &wt)) > 0) {
        uint64_t v;
        if (seen++) return 0;
        if (field == 3 && wt == WT_VARINT) {
            if (read_varint(&b, &v) < 0) return -1;
            fine = (int64_t)v >= 0 && v <= max_count;
        } else if (field == 4 && wt == WT_FIXED64) {
            if (read_fixed64(&b, &v) < 0) return -1;
            double d;
            memcpy(&d, &v, sizeof d);
            fine = d >= 0 && d <= (double)max_count;
        } else {
            return 0;
        }
    }
    return more < 0 ? -1 : fine;
}

static int scan_key_value(Buf b, Scan *scan) {
    Buf key, value;
    if (split_key_value(b, &key, &value) < 0) return -1;
    int cost = checked_key(key);
    if (cost < 0) return 0;
    if (value.p == NULL) value = (Buf){key.end, key.end};
    int plain = plainly_counted(value, cost ? (uint64_t)scan->max_cost : scan->max_count);
    /* Once a span has a suspect, its later count values all go too: a repeated key's last value
     * is the one that counts (as in the reference's dict), fine or not. */
    if (plain < 0) return -1;
    if (plain > 0 && PyList_GET_SIZE(scan->found) == scan->span_start) return 0;
    PyObject *name = utf8(key), *found = name ? any_value(value, 0) : NULL;
    PyObject *item = found ? Py_BuildValue("(nOO)", scan->ordinal, name, found) : NULL;
    Py_XDECREF(name);
    Py_XDECREF(found);
    if (item == NULL) return -1;
    int rc = PyList_Append(scan->found, item);
    Py_DECREF(item);
    return rc;
}

static int scan_span(Buf b, Scan *scan) {
    uint32_t field, wt;
    int more;
    scan->span_start = PyList_GET_SIZE(scan->found);
    while ((more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        if (more < 0) return -1;
        if (field == 9 && wt == WT_LEN) {
            if (read_len(&b, &sub) < 0 || scan_key_value(sub, scan) < 0) return -1;
        } else if (skip_field(&b, wt) < 0) {
            return -1;
        }
    }
    scan->ordinal++;
    return 0;
}

/* Calls `inner` on every field `field_no` (a message) of `b`. */
static int each_message(Buf b, uint32_t field_no, int (*inner)(Buf, Scan *), Scan *scan) {
    uint32_t field, wt;
    int more;
    while ((more = next_field(&b, &field, &wt)) != 0) {
        Buf sub;
        if (more < 0) return -1;
        if (field == field_no && wt == WT_LEN) {
            if (read_len(&b, &sub) < 0 || inner(sub, scan) < 0) return -1;
        } else if (skip_field(&b, wt) < 0) {
            return -1;
        }
    }
    return 0;
}

static int scan_scope_spans(Buf b, Scan *scan) {
    return each_message(b, 2, scan_span, scan);
}

static int scan_resource_spans(Buf b, Scan *scan) {
    return each_message(b, 2, scan_scope_spans, scan);
}

static PyObject *suspect_counts(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    unsigned long long max_count;
    double max_cost;
    if (count_key_bytes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "collector._otlp.configure_counts() was not called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*Kd", &view, &max_count, &max_cost)) return NULL;
    if (!(max_cost >= 0 && max_cost < 1e18)) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "max_cost out of range");
    }
    Buf b = {view.buf, (const uint8_t *)view.buf + view.len};
    Scan scan = {PyList_New(0), 0, 0, max_count, max_cost};
    int rc = scan.found ? each_message(b, 1, scan_resource_spans, &scan) : -1;
    PyBuffer_Release(&view);
    if (rc == 0) return scan.found;
    Py_XDECREF(scan.found);
    if (!PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(PyExc_ValueError, "native OTLP count scan declined the body: %S", value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    return NULL;
}

static PyObject *configure_counts(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *keys = PySequence_Tuple(arg);
    if (keys == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    if (n > MAX_COUNT_KEYS) {
        Py_DECREF(keys);
        return PyErr_Format(PyExc_ValueError, "at most %d count keys", MAX_COUNT_KEYS);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(keys, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(pair, 0))
            || PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 0)) > MAX_KEY_LEN) {
            Py_DECREF(keys);
            return PyErr_Format(PyExc_ValueError, "keys are (bytes of at most %d, is a cost) pairs", MAX_KEY_LEN);
        }
    }
    Py_XSETREF(count_key_bytes, keys);
    int at = 0;
    for (Py_ssize_t length = 0; length <= MAX_KEY_LEN; length++) { /* a counting sort by length */
        first_of_length[length] = at;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *key = PyTuple_GET_ITEM(PyTuple_GET_ITEM(keys, i), 0);
            if (PyBytes_GET_SIZE(key) != length) continue;
            count_key_is_cost[at] = PyObject_IsTrue(PyTuple_GET_ITEM(PyTuple_GET_ITEM(keys, i), 1)) == 1;
            count_keys[at++] = PyBytes_AS_STRING(key);
        }
    }
    first_of_length[MAX_KEY_LEN + 1] = at;
    Py_RETURN_NONE;
}

/* --- set-up -------------------------------------------------------------------------- */

static int bind_record(Record *rec, PyObject *cls, const char *const *names) {
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes the record classes");
        return -1;
    }
    Record bound = {(PyTypeObject *)cls, {0}, 0};
    for (; names[bound.n]; bound.n++) {
        PyObject *descr = PyObject_GetAttrString(cls, names[bound.n]);
        if (descr == NULL) return -1;
        if (Py_TYPE(descr)->tp_descr_set == NULL) {
            Py_DECREF(descr);
            PyErr_Format(PyExc_TypeError, "%R.%s is not a slot", cls, names[bound.n]);
            return -1;
        }
        bound.slots[bound.n] = descr;
    }
    Py_INCREF(cls);
    *rec = bound;
    return 0;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    (void)self;
    static const char *const span_names[] = {
        "trace_id", "span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "status_code",
        "status_message", "attributes", "resource", "scope_name", "scope_version", "events", "links", NULL};
    static const char *const event_names[] = {"name", "time_ns", "attributes", NULL};
    static const char *const link_names[] = {"trace_id", "span_id", "attributes", NULL};
    PyObject *span_cls, *event_cls, *link_cls;
    if (!PyArg_ParseTuple(args, "OOO", &span_cls, &event_cls, &link_cls)) return NULL;
    if (raw_span.type != NULL) Py_RETURN_NONE; /* bound once per process */
    if (bind_record(&span_event, event_cls, event_names) < 0 || bind_record(&span_link, link_cls, link_names) < 0
        || bind_record(&raw_span, span_cls, span_names) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(RawSpan, SpanEvent, SpanLink): the record classes to build (their slot order is fixed)."},
    {"decode_traces", decode_traces, METH_O,
     "decode_traces(body) -> (spans, rejected, reasons) of an ExportTraceServiceRequest; ValueError to decline."},
    {"configure_counts", configure_counts, METH_O,
     "configure_counts(keys): (name as bytes, is a cost) of the attributes suspect_counts looks at."},
    {"suspect_counts", suspect_counts, METH_VARARGS,
     "suspect_counts(body, max_count, max_cost) -> [(span ordinal, key, value)] of count (cost) attributes "
     "that are not plainly an int or double in [0, max_count] ([0, max_cost]); ValueError to decline."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_otlp", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__otlp(void) {
    return PyModule_Create(&module);
}
