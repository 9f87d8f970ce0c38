import chdb, os, time, sys, resource, pickle
sys.path.insert(0,'/tmp/spike'); from common import *
from google.protobuf.internal.encoder import _VarintBytes
os.chdir(PROTO_DIR)
import shutil; shutil.rmtree('/tmp/spike/db_mv', ignore_errors=True)
c = chdb.connect('/tmp/spike/db_mv'); c.query(ddl())
bodies = pickle.load(open('/tmp/spike/bodies10x1000.pkl','rb'))
c.query(f"CREATE TABLE otlp_in ({STRUCT_RAW}) ENGINE = Null")
c.query(f"CREATE MATERIALIZED VIEW otlp_mv TO spans AS {select_norm_aliased('otlp_in')}")
SET = f"format_schema='{SCHEMA}', input_format_protobuf_oneof_presence=1"
c.query(f"SET format_schema='{SCHEMA}'"); c.query("SET input_format_protobuf_oneof_presence=1")
def cpu(): r=resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime+r.ru_stime
def run_send_insert(bs):
    with c.send_insert("INSERT INTO otlp_in", "Protobuf") as ins:
        for b in bs: ins.append(_VarintBytes(len(b))+b)
        ins.finish()
def run_file_mv(bs):
    p = '/dev/shm/otlp_batch.pbd'
    with open(p,'wb') as f:
        for b in bs: f.write(_VarintBytes(len(b))); f.write(b)
    c.query(f"INSERT INTO otlp_in SELECT * FROM file('{p}', Protobuf, '{STRUCT}') SETTINGS {SET}")
    os.unlink(p)
def run_infile_mv(bs):
    p = '/dev/shm/otlp_batch.pbd'
    with open(p,'wb') as f:
        for b in bs: f.write(_VarintBytes(len(b))); f.write(b)
    c.query(f"INSERT INTO otlp_in FROM INFILE '{p}' SETTINGS {SET} FORMAT Protobuf")
    os.unlink(p)
def bench(label, fn, bs, reps=7):
    n = 1000*len(bs); ts=[]; cs=[]
    for i in range(reps):
        t=time.perf_counter(); c0=cpu(); fn(bs); ts.append(time.perf_counter()-t); cs.append(cpu()-c0)
    ts.sort(); cs.sort(); m=ts[len(ts)//2]; mc=cs[len(cs)//2]
    print(f"{label:32s} reqs={len(bs):2d} n={n:6d} median {m*1e3:7.1f} ms {m/n*1e6:6.1f} us/span {n/m:8.0f} sp/s | cpu {mc/n*1e6:6.1f} us/span", flush=True)
for label, fn in [("send_insert -> Null+MV", run_send_insert), ("INSERT FROM INFILE -> Null+MV", run_infile_mv), ("file() -> Null+MV", run_file_mv)]:
    for bs in (bodies[:1], bodies):
        try: bench(label, fn, bs)
        except Exception as e: print(label, "ERR", str(e)[:600])
print(c.query("SELECT count(), uniqExact(span_id), any(request_model), any(kind), sum(input_tokens) FROM spans", "CSV"))
