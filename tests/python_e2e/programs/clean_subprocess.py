# subprocess.run / check_output / Popen, also from several threads at once.  No locksan output.
import subprocess
import sys
import threading

r = subprocess.run(["echo", "hello"], stdout=subprocess.PIPE, universal_newlines=True, check=True)
print(r.stdout.strip())
out = subprocess.check_output([sys.executable, "-c", "import threading; print(threading.active_count())"],
                              universal_newlines=True)
print("child threads", out.strip())
r = subprocess.run(["cat"], input="piped input", stdout=subprocess.PIPE, universal_newlines=True)
print(r.stdout)
results = []
lock = threading.Lock()


def many(k):
    for i in range(3):
        o = subprocess.run(["sh", "-c", "echo %d" % (k * 10 + i)], stdout=subprocess.PIPE,
                           universal_newlines=True).stdout
        with lock:
            results.append(int(o))


ts = [threading.Thread(target=many, args=(k,)) for k in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(sorted(results))
p = subprocess.Popen(["sh", "-c", "exit 3"])
print("returncode", p.wait(timeout=60))
print("done")
