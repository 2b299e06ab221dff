"""A health endpoint whose identity changes in place (no new process), answering with
the framing named on the command line, as real servers do:

  chunked  HTTP/1.1, Transfer-Encoding: chunked (Spring Boot, Go's net/http, Node)
  length   HTTP/1.1 with Content-Length
  close    HTTP/1.0, no length: the body ends when the connection closes

The identity is read from the file `instance` in the working folder at each request,
and each request served is one line of `requests.log`. With CERT and KEY (PEM files)
it answers https.
usage: identity_http.py FRAMING PORT [CERT KEY]"""
import socketserver
import ssl
import sys

FRAMING, PORT = sys.argv[1], int(sys.argv[2])
TLS = sys.argv[3:5]


def body():
    try:
        with open("instance") as f:
            instance = f.read().strip() or "1"
    except OSError:
        instance = "1"
    return ('{"status": "ok", "instance": "%s", "padding": "%s"}' % (instance, "x" * 40)).encode()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        data = body()
        with open("requests.log", "a") as log:
            log.write(data.decode()[:40] + "\n")
        if FRAMING == "chunked":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            parts = [data[:17], data[17:]]
            chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts)
            self.wfile.write(head + chunks + b"0\r\nX-Trailer: yes\r\n\r\n")
        elif FRAMING == "length":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
        else:
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + data)
        self.wfile.flush()


socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(("127.0.0.1", PORT), Handler) as server:
    if TLS:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS[0], TLS[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("serving", FRAMING, "over TLS" if TLS else "", flush=True)
    server.serve_forever()
