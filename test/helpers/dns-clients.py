# Hostile and counting DNS peers for the resolver's limit tests, run inside the test's own
# namespaces (python3's standard library only):
#   pipeline N NAME SECONDS   one TCP connection to 127.0.0.11:53 writing N queries for NAME
#                             without reading a byte back; prints the bytes the kernel took
#   hold N SECONDS            N TCP connections to 127.0.0.11:53 opened and held, never written
#   latency N NAME            N UDP queries for NAME to 127.0.0.11:53, one at a time (1 s each
#                             at most); prints the answered count, then p50, p99 and max in ms
#   upstream ADDR PORT SECONDS a TCP DNS server that answers NXDOMAIN after 0.2 s and prints the
#                             most connections it had open at once, and how many it accepted
import socket, struct, sys, time, threading, resource

def query(i, name):
    q = struct.pack('!HHHHHH', i & 0xffff, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    return q + b'\0' + struct.pack('!HH', 1, 1)

def framed(m):
    return struct.pack('!H', len(m)) + m

cmd = sys.argv[1]
if cmd == 'pipeline':
    n, name, seconds = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(('127.0.0.11', 53))
    s.settimeout(seconds)
    data = b''.join(framed(query(i, name)) for i in range(n))
    sent = 0
    deadline = time.time() + seconds
    try:
        while sent < len(data) and time.time() < deadline:
            sent += s.send(data[sent:sent + 65536])
    except (socket.timeout, OSError):
        pass
    print(sent, flush=True)
    time.sleep(float(sys.argv[5]) if len(sys.argv) > 5 else 0)
elif cmd == 'hold':
    n, seconds = int(sys.argv[2]), float(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    held, refused = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(('127.0.0.11', 53))
        except BlockingIOError:
            pass
        except OSError:
            refused += 1
            s.close()
            continue
        held.append(s)
    print(len(held), refused, flush=True)
    time.sleep(seconds)
elif cmd == 'latency':
    n, name = int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(('127.0.0.11', 53))
    s.settimeout(1)
    times = []
    for i in range(n):
        q = query(i, name)
        start = time.perf_counter()
        s.send(q)
        try:
            while True:
                r = s.recv(4096)
                if r[:2] == q[:2]:
                    times.append((time.perf_counter() - start) * 1000)
                    break
        except socket.timeout:
            pass
        time.sleep(0.002)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] if times else -1
    print(len(times), '%.3f %.3f %.3f' % (pick(0.5), pick(0.99), times[-1] if times else -1), flush=True)
elif cmd == 'upstream':
    addr, port, seconds = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    lock = threading.Lock()
    state = {'open': 0, 'most': 0, 'accepted': 0}
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(4096)
    srv.settimeout(0.2)
    print('ready', flush=True)
    def serve(c):
        try:
            c.settimeout(3)
            head = c.recv(2)
            if len(head) == 2:
                (length,) = struct.unpack('!H', head)
                q = b''
                while len(q) < length:
                    chunk = c.recv(length - len(q))
                    if not chunk:
                        break
                    q += chunk
                time.sleep(0.2)
                r = q[:2] + struct.pack('!H', 0x8183) + q[4:6] + b'\0\0\0\0\0\0' + q[12:]
                c.sendall(framed(r))
        except OSError:
            pass
        finally:
            c.close()
            with lock:
                state['open'] -= 1
    end = time.time() + seconds
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        with lock:
            state['open'] += 1
            state['accepted'] += 1
            state['most'] = max(state['most'], state['open'])
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    print(state['most'], state['accepted'], flush=True)
