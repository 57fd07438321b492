#!/usr/bin/python3
"""Minimal RTSP server for tests: serves an H.264 MP4 (no B-frames) at rtsp://127.0.0.1:PORT/MOUNT.

Usage: rtsp_server.py PORT FILE [MOUNT]. Prints READY once listening. Needs python3-gi,
gir1.2-gst-rtsp-server-1.0 and gstreamer1.0-plugins-{base,good,bad}.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

port, path = sys.argv[1], sys.argv[2]
mount = sys.argv[3] if len(sys.argv) > 3 else "/clip"
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
)
factory.set_shared(False)  # every client starts the clip from its beginning
server.get_mount_points().add_factory(mount, factory)
if server.attach(None) == 0:
    print("FAILED to bind", flush=True)
    sys.exit(2)
print("READY", flush=True)
GLib.MainLoop().run()
