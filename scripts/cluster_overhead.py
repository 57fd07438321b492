"""Cluster measurements for scripts/cluster-overhead.sh (issue 24), against two cluster nodes on loopback.

usage: cluster_overhead.py GENERATED_DIR subscribe FRONT_ADDRESS OTHER_ADDRESS SECONDS FRONT_NAME OTHER_NAME
  Adds stream 'probe' through FRONT_ADDRESS, finds its owner, subscribes to it through the owner and through the other
  node for SECONDS, and prints one JSON object: per path the latency from the frame's capture time to its arrival here
  (p50, p99, ms) over the frames both paths delivered, and the per-frame difference (what the proxy adds).
usage: cluster_overhead.py GENERATED_DIR failover FRONT_ADDRESS FRONT_METRICS_URL VICTIM_NAME VICTIM_PID
  Adds four on-demand streams through FRONT_ADDRESS, kills the victim node with SIGKILL once it owns some, and prints
  one JSON object: seconds from the kill until the front node's membership dropped the victim (detection), until every
  stream was placed on a survivor (re-activation), and until a resubscription got its first frame (with its keyframe
  flag and reason).
"""
import json
import os
import re
import signal
import sys
import urllib.request
import threading
import time

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import streammtl_pb2 as pb  # noqa: E402
import streammtl_pb2_grpc as rpc  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def add_with_retry(stub, request):
    deadline = time.time() + 60
    while True:
        try:
            return stub.AddStream(request, timeout=30)
        except grpc.RpcError as error:  # until every node has reported its capacity
            if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.time() > deadline:
                raise
            time.sleep(1)


def until(condition, timeout=120, step=0.05):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise SystemExit("timed out")
        time.sleep(step)


def failover(front, metrics_url, victim, victim_pid):
    stub = rpc.VisionServiceStub(grpc.insecure_channel(front))
    ids = [f"f{i}" for i in range(4)]
    for i, stream in enumerate(ids):
        add_with_retry(stub, pb.AddStreamRequest(id=stream, source_uri=f"synthetic://static?seed={i}&w=160&h=128&fps=5"))

    def listed():
        try:
            return {s.id: s for s in stub.ListStreams(pb.ListStreamsRequest(), timeout=10).streams}
        except grpc.RpcError:
            return {}
    until(lambda: all(s.node for s in listed().values()) and len(listed()) == 4)
    moved = [s.id for s in listed().values() if s.node == victim]
    if not moved:
        raise SystemExit("the victim owns no stream")

    def nodes():
        text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
        return float(re.search(r"^streammtl_cluster_nodes (\S+)$", text, re.M).group(1))
    killed = time.time()
    os.kill(victim_pid, signal.SIGKILL)
    until(lambda: nodes() == 1)
    detected = time.time() - killed

    def settled():
        streams = listed()
        return len(streams) == 4 and all(s.node and s.node != victim for s in streams.values())
    until(settled)
    reactivated = time.time() - killed
    subscribed = time.time()
    first = next(iter(stub.Subscribe(pb.SubscribeRequest(stream_id=moved[0]), timeout=60)))
    first_frame = time.time() - subscribed
    for stream in ids:
        stub.RemoveStream(pb.RemoveStreamRequest(id=stream), timeout=30)
    print(json.dumps({"moved": len(moved), "detection_s": round(detected, 2), "reactivation_s": round(reactivated, 2),
                      "first_frame_after_resubscribe_s": round(first_frame, 2),
                      "first_frame_keyframe": first.accounting.keyframe, "first_frame_reason": first.accounting.keyframe_reason}))


def subscribe(front, other, seconds, front_name, other_name):
    names = {front_name: front, other_name: other}
    stubs = {address: rpc.VisionServiceStub(grpc.insecure_channel(address)) for address in (front, other)}
    add_with_retry(stubs[front], pb.AddStreamRequest(id="probe", source_uri="synthetic://static?seed=5&fps=10", always_on=True))
    owner_name = stubs[front].GetStream(pb.GetStreamRequest(id="probe"), timeout=30).node
    owner_address = names[owner_name]
    arrivals = {"owner": {}, "proxied": {}}
    stop = time.time() + seconds

    def receive(path, stub):
        call = stub.Subscribe(pb.SubscribeRequest(stream_id="probe"), timeout=seconds + 30)
        for result in call:
            now = time.time()
            captured = result.capture_time.seconds + result.capture_time.nanos / 1e9
            arrivals[path][result.frame_index] = (now - captured) * 1000.0
            if now > stop:
                call.cancel()
                break

    proxy_address = other if owner_address == front else front
    threads = [threading.Thread(target=receive, args=("owner", stubs[owner_address])),
               threading.Thread(target=receive, args=("proxied", stubs[proxy_address]))]
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


if sys.argv[2] == "subscribe":
    subscribe(sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6], sys.argv[7])
else:
    failover(sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
