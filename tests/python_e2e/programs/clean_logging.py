# logging from many threads to a stream handler, a file handler and a QueueHandler/QueueListener.
# No locksan output expected.
import io
import logging
import logging.handlers
import os
import queue
import sys
import tempfile
import threading

log = logging.getLogger("e2e")
log.setLevel(logging.DEBUG)
stream = io.StringIO()
log.addHandler(logging.StreamHandler(stream))
tmp = tempfile.NamedTemporaryFile("w", delete=False, suffix=".log")
tmp.close()
fh = logging.FileHandler(tmp.name)
fh.setFormatter(logging.Formatter("%(threadName)s %(levelname)s %(message)s"))
log.addHandler(fh)
q = queue.Queue()
qlog = logging.getLogger("e2e.q")
qlog.propagate = False
qlog.addHandler(logging.handlers.QueueHandler(q))
collected = io.StringIO()
listener = logging.handlers.QueueListener(q, logging.StreamHandler(collected))
listener.start()


def worker(k):
    for i in range(40):
        log.info("thread %d message %d", k, i)
        qlog.warning("q %d %d", k, i)
        if i % 10 == 0:
            log.debug("checkpoint %d", i)


ts = [threading.Thread(target=worker, args=(k,), name="w%d" % k) for k in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
listener.stop()
fh.close()
with open(tmp.name) as f:
    nfile = len(f.readlines())
os.unlink(tmp.name)
print(len(stream.getvalue().splitlines()), nfile, len(collected.getvalue().splitlines()))
logging.basicConfig(stream=sys.stdout, format="%(levelname)s:%(message)s")
logging.warning("to stdout")
print("done")
