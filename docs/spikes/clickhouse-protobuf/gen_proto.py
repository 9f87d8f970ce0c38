# Regenerate .proto text from the installed opentelemetry-proto _pb2 descriptors
import os
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor as FD
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

T = {FD.TYPE_DOUBLE:'double',FD.TYPE_FLOAT:'float',FD.TYPE_INT64:'int64',FD.TYPE_UINT64:'uint64',FD.TYPE_INT32:'int32',
     FD.TYPE_FIXED64:'fixed64',FD.TYPE_FIXED32:'fixed32',FD.TYPE_BOOL:'bool',FD.TYPE_STRING:'string',FD.TYPE_BYTES:'bytes',
     FD.TYPE_UINT32:'uint32',FD.TYPE_SFIXED32:'sfixed32',FD.TYPE_SFIXED64:'sfixed64',FD.TYPE_SINT32:'sint32',FD.TYPE_SINT64:'sint64'}
def ftype(f):
    if f.type in (FD.TYPE_MESSAGE, FD.TYPE_ENUM):
        return '.' + (f.message_type or f.enum_type).full_name
    return T[f.type]
def enum(e, ind):
    out=[f"{ind}enum {e.name} {{"]
    for v in e.values: out.append(f"{ind}  {v.name} = {v.number};")
    out.append(ind+"}"); return out
def msg(m, ind=""):
    out=[f"{ind}message {m.name} {{"]
    for n in m.nested_types: out += msg(n, ind+"  ")
    for e in m.enum_types: out += enum(e, ind+"  ")
    done=set()
    for f in m.fields:
        o = f.containing_oneof
        if o is not None and not o.name.startswith('_'):
            if o.name in done: continue
            done.add(o.name)
            out.append(f"{ind}  oneof {o.name} {{")
            for g in o.fields: out.append(f"{ind}    {ftype(g)} {g.name} = {g.number};")
            out.append(f"{ind}  }}")
            continue
        lab = "repeated " if f.is_repeated else ""
        out.append(f"{ind}  {lab}{ftype(f)} {f.name} = {f.number};")
    out.append(ind+"}"); return out
for mod in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
    fd = mod.DESCRIPTOR
    lines=['syntax = "proto3";', f'package {fd.package};']
    for d in fd.dependencies: lines.append(f'import "{d.name}";')
    for e in fd.enum_types_by_name.values(): lines += enum(e, "")
    for m in fd.message_types_by_name.values(): lines += msg(m)
    lines += [f"service {s.name} {{}}" for s in []]
    p = os.path.join('/tmp/spike/proto', fd.name); os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p,'w').write("\n".join(lines)+"\n"); print(p)
