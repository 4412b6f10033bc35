#!/usr/bin/env python3
"""UDP hole punch between two lab hosts, for scripts/lab-selftest.

    lab-punch.py LOCAL_ADDR LOCAL_PORT PEER_ADDR PEER_PORT [SECONDS]

Binds LOCAL_ADDR:LOCAL_PORT, sends a datagram to PEER_ADDR:PEER_PORT every 100 ms and answers
what it receives, for at most SECONDS (default 3). Prints "PUNCHED from ADDR:PORT" and exits 0
once it has both received from the peer and seen the peer receive from it, else prints
"NOT-PUNCHED" and exits 1. Run one on each side at about the same time.
"""
import select
import socket
import sys
import time


def main() -> int:
    if len(sys.argv) not in (5, 6):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    local = (sys.argv[1], int(sys.argv[2]))
    peer = (sys.argv[3], int(sys.argv[4]))
    seconds = float(sys.argv[5]) if len(sys.argv) == 6 else 3.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(local)
    deadline = time.monotonic() + seconds
    heard_from = None
    peer_heard_us = False
    linger_until = None
    next_send = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_send:
            # "ack" tells the peer we have heard it.
            msg = b"ack" if heard_from else b"syn"
            try:
                sock.sendto(msg, peer)
            except OSError:
                pass  # ICMP errors from earlier sends surface here; keep trying
            next_send = now + 0.1
        if heard_from and peer_heard_us:
            # Keep answering a little so the peer gets our ack too.
            if linger_until is None:
                linger_until = now + 0.5
            elif now >= linger_until:
                break
        timeout = max(0.0, min(next_send, deadline) - time.monotonic())
        ready, _, _ = select.select([sock], [], [], timeout)
        if ready:
            try:
                data, src = sock.recvfrom(2048)
            except OSError:
                continue
            heard_from = src
            if data == b"ack":
                peer_heard_us = True
    if heard_from and peer_heard_us:
        print(f"PUNCHED from {heard_from[0]}:{heard_from[1]}")
        return 0
    print("NOT-PUNCHED")
    return 1


if __name__ == "__main__":
    sys.exit(main())
