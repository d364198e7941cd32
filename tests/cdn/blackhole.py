#!/usr/bin/env python3
"""A fault instance: accepts TCP connections, reads what arrives, and never answers."""
import socket
import sys
import threading


def hold(conn):
    with conn:
        while conn.recv(65536):
            pass


if __name__ == "__main__":
    srv = socket.create_server((sys.argv[1], int(sys.argv[2])), reuse_port=True)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=hold, args=(c,), daemon=True).start()
