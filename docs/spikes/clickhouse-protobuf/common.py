import os
SCHEMA = "opentelemetry/proto/collector/trace/v1/trace_service.proto:ExportTraceServiceRequest"
PROTO_DIR = '/tmp/spike/proto'
E = "Enum8(''none''=0,''string_value''=1,''bool_value''=2,''int_value''=3,''double_value''=4,''array_value''=5,''kvlist_value''=6,''bytes_value''=7,''string_value_strindex''=8)"
AV = f"Tuple(string_value String, bool_value Bool, int_value Int64, double_value Float64, array_value Tuple(values Array(Tuple(string_value String, int_value Int64, double_value Float64, bool_value Bool))), value {E})"
KV = f"Array(Tuple(key String, value {AV}))"
SPAN = f"""Tuple(trace_id String, span_id String, parent_span_id String, name String, kind Int32,
 start_time_unix_nano UInt64, end_time_unix_nano UInt64, attributes {KV},
 events Array(Tuple(time_unix_nano UInt64, name String, attributes {KV})),
 links Array(Tuple(trace_id String, span_id String, attributes {KV})),
 status Tuple(message String, code Int32))"""
# single-quote-escaped for use inside a SQL string literal
STRUCT = f"resource_spans Array(Tuple(resource Tuple(attributes {KV}), scope_spans Array(Tuple(scope Tuple(name String, version String), spans Array({SPAN})))))"
STRUCT_RAW = STRUCT.replace("''", "'")

def anyval(x):  # AnyValue tuple -> String, by oneof case
    return f"""multiIf({x}.value = 'string_value', {x}.string_value, {x}.value = 'int_value', toString({x}.int_value),
      {x}.value = 'double_value', toString({x}.double_value), {x}.value = 'bool_value', if({x}.bool_value,'true','false'),
      {x}.value = 'array_value', toJSONString(arrayMap(v -> v.string_value, {x}.array_value.values)), '')"""
def kvmap(arr):
    return f"mapFromArrays(arrayMap(x -> x.key, {arr}), arrayMap(x -> {anyval('x.value')}, {arr}))"

# inner query: one row per span, from a source (file(...), format(...), input(...))
def flat(source):
    return f"""SELECT rs_attrs, ss.scope.name AS scope_name, sp.trace_id AS tid, sp.span_id AS sid, sp.parent_span_id AS psid,
   sp.name AS sname, sp.kind AS skind, sp.start_time_unix_nano AS st, sp.end_time_unix_nano AS et, sp.status AS sstatus,
   {kvmap('sp.attributes')} AS a, length(sp.events) AS n_events, length(sp.links) AS n_links
 FROM {source}
 ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS sp
 -- resource attributes computed per resource, not per span
 LEFT ARRAY JOIN [{kvmap('rs.resource.attributes')}] AS rs_attrs"""

COLS = """project_id, trace_id, span_id, parent_span_id, name, kind, service_name, environment, scope_name, convention,
 start_time, end_time, duration_ms, status_code, status_message, span_type, provider, operation, request_model, response_model,
 response_id, system_fingerprint, input_tokens, output_tokens, cache_read_tokens, total_tokens, finish_reasons, streaming,
 user_id, input_messages, output_messages, attributes, resource_attributes, is_call, call_key"""
def select_norm(source, project='p1'):
    return f"""SELECT '{project}', lower(hex(tid)), lower(hex(sid)), lower(hex(psid)), sname,
  ['UNSPECIFIED','INTERNAL','SERVER','CLIENT','PRODUCER','CONSUMER'][skind+1],
  rs_attrs['service.name'], coalesce(nullIf(rs_attrs['deployment.environment.name'],''), rs_attrs['deployment.environment']), scope_name,
  multiIf(mapContains(a,'gen_ai.operation.name') OR mapContains(a,'gen_ai.system'), 'otel_genai', mapContains(a,'openinference.span.kind'), 'openinference', mapContains(a,'traceloop.span.kind'), 'traceloop', 'none'),
  fromUnixTimestamp64Nano(toInt64(st)), fromUnixTimestamp64Nano(toInt64(et)), (et - st) / 1e6,
  ['UNSET','OK','ERROR'][sstatus.code+1], sstatus.message,
  multiIf(a['gen_ai.operation.name'] IN ('chat','text_completion','generate_content'), 'llm', a['gen_ai.operation.name']='embeddings','embedding', lower(a['openinference.span.kind'])='llm','llm', 'other'),
  coalesce(nullIf(a['gen_ai.provider.name'],''), nullIf(a['gen_ai.system'],''), nullIf(a['llm.provider'],''), ''),
  a['gen_ai.operation.name'],
  coalesce(nullIf(a['gen_ai.request.model'],''), nullIf(a['llm.request.model_name'],''), nullIf(a['llm.model_name'],''), ''),
  coalesce(nullIf(a['gen_ai.response.model'],''), nullIf(a['llm.response.model'],''), ''),
  a['gen_ai.response.id'],
  coalesce(nullIf(a['gen_ai.openai.response.system_fingerprint'],''), nullIf(a['gen_ai.response.system_fingerprint'],''), ''),
  greatest(toUInt64OrZero(a['gen_ai.usage.input_tokens']), toUInt64OrZero(a['gen_ai.usage.prompt_tokens']), toUInt64OrZero(a['llm.token_count.prompt'])),
  greatest(toUInt64OrZero(a['gen_ai.usage.output_tokens']), toUInt64OrZero(a['gen_ai.usage.completion_tokens']), toUInt64OrZero(a['llm.token_count.completion'])),
  toUInt64OrZero(a['gen_ai.usage.cache_read.input_tokens']),
  toUInt64OrZero(a['gen_ai.usage.input_tokens']) + toUInt64OrZero(a['gen_ai.usage.output_tokens']),
  JSONExtract(a['gen_ai.response.finish_reasons'], 'Array(String)'),
  a['gen_ai.request.stream'] = 'true',
  coalesce(nullIf(a['user.id'],''), nullIf(a['enduser.id'],''), ''),
  a['gen_ai.input.messages'], a['gen_ai.output.messages'],
  mapFilter((k, v) -> k NOT IN ('gen_ai.input.messages','gen_ai.output.messages'), a), rs_attrs,
  a['gen_ai.operation.name'] != '', a['gen_ai.response.id']
 FROM ({flat(source)})"""

def ddl(db='default'):
    s = open('/work/main/schemas/migrations/0001_spans.sql').read()
    return s.replace('{db}', db)

def split_top(s):
    out=[]; depth=0; q=False; cur=''
    for ch in s:
        if ch=="'" : q = not q
        if not q:
            if ch in '([': depth+=1
            elif ch in ')]': depth-=1
            elif ch==',' and depth==0: out.append(cur); cur=''; continue
        cur+=ch
    out.append(cur); return out
def select_norm_aliased(source, project='p1'):
    s = select_norm(source, project)
    head, tail = s.split("\n FROM (", 1)
    exprs = split_top(head[len("SELECT "):])
    cols = [x.strip() for x in COLS.split(',')]
    assert len(exprs)==len(cols), (len(exprs), len(cols))
    return "SELECT " + ",\n  ".join(f"{e.strip()} AS {c}" for e,c in zip(exprs, cols)) + "\n FROM (" + tail
