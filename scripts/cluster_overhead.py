"""Latency a proxied Subscribe adds (issue 24): one stream subscribed through its owner and through another node at once.

usage: cluster_overhead.py GENERATED_DIR FRONT_ADDRESS OTHER_ADDRESS SECONDS FRONT_NAME OTHER_NAME
Adds stream 'probe' through FRONT_ADDRESS (a cluster node), finds its owner in ListStreams, subscribes to it through
the owner and through the other node for SECONDS, and prints one JSON object: per path the latency from the frame's
capture time to its arrival here (p50, p99, ms) over the frames both paths delivered, and the per-frame difference.
"""
import json
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import streammtl_pb2 as pb  # noqa: E402
import streammtl_pb2_grpc as rpc  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    front, other, seconds = sys.argv[2], sys.argv[3], float(sys.argv[4])
    names = {sys.argv[5]: front, sys.argv[6]: other}
    stubs = {address: rpc.VisionServiceStub(grpc.insecure_channel(address)) for address in (front, other)}
    request = pb.AddStreamRequest(id="probe", source_uri="synthetic://static?seed=5&fps=10", always_on=True)
    deadline = time.time() + 60
    while True:
        try:
            stubs[front].AddStream(request, timeout=30)
            break
        except grpc.RpcError as error:  # until every node has reported its capacity
            if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.time() > deadline:
                raise
            time.sleep(1)
    owner_name = stubs[front].GetStream(pb.GetStreamRequest(id="probe"), timeout=30).node
    owner_address = names[owner_name]
    arrivals = {"owner": {}, "proxied": {}}
    stop = time.time() + seconds

    def subscribe(path, stub):
        call = stub.Subscribe(pb.SubscribeRequest(stream_id="probe"), timeout=seconds + 30)
        for result in call:
            now = time.time()
            captured = result.capture_time.seconds + result.capture_time.nanos / 1e9
            arrivals[path][result.frame_index] = (now - captured) * 1000.0
            if now > stop:
                call.cancel()
                break

    proxy_address = other if owner_address == front else front
    threads = [threading.Thread(target=subscribe, args=("owner", stubs[owner_address])),
               threading.Thread(target=subscribe, args=("proxied", stubs[proxy_address]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stubs[front].RemoveStream(pb.RemoveStreamRequest(id="probe"), timeout=30)
    common = sorted(set(arrivals["owner"]) & set(arrivals["proxied"]))
    if len(common) < 10:
        raise SystemExit(f"only {len(common)} frames reached both subscribers")
    owner = [arrivals["owner"][i] for i in common]
    proxied = [arrivals["proxied"][i] for i in common]
    added = [p - o for p, o in zip(proxied, owner)]
    print(json.dumps({
        "owner_node": owner_name, "frames": len(common),
        "owner_ms": {"p50": round(percentile(owner, 0.5), 2), "p99": round(percentile(owner, 0.99), 2)},
        "proxied_ms": {"p50": round(percentile(proxied, 0.5), 2), "p99": round(percentile(proxied, 0.99), 2)},
        "added_ms": {"p50": round(percentile(added, 0.5), 2), "p99": round(percentile(added, 0.99), 2)},
    }))


main()
