"""A steady, bounded load of POST /appointments by clients that do what SPEC §3 asks of
them: on no answer, a connection error, a 5xx, or any answer carrying Retry-After (429,
503), send the same body again with the same Idempotency-Key, with
exponential backoff and jitter, until an answer that carries an appointment (201/200) or a
final refusal comes, or the key's deadline passes.

Every key has its own insuredId, so "the appointments of this key" is "the items of this
insuredId". Every seventh arrival brings a twin: a second key for the same slot, sent at
the same moment, so that some appointments legitimately end `failed` (schedule_unavailable)
or are refused with 409 SCHEDULE_UNAVAILABLE. A share of the answered keys cancel their
appointment (DELETE, retried the same way): it must end `cancelled` with no slot held."""
import http.client
import json
import random
import threading
import time

CLIENT_TIMEOUT = 45.0   # longer than the API's worst case (a POST's AWS budget, 3 s by default)
KEY_DEADLINE = 150.0    # a client gives up on a key after this long
BACKOFF_MIN = 0.2
BACKOFF_MAX = 3.0
TWIN_EVERY = 7        # odd, so twins alternate between countries
REPLAY_SHARE = 0.2      # share of answered keys the client asks again (must get 200, same id)
CANCEL_SHARE = 0.15     # share of answered keys whose client then cancels the appointment


class Key:
    def __init__(self, n, insured, schedule, country, row, twin):
        self.n = n
        self.key = "fault-%06d-%s" % (n, "%08x" % random.getrandbits(32))
        self.insured = insured
        self.schedule = schedule
        self.country = country
        self.row = row
        self.twin = twin
        self.t_start = time.monotonic()
        self.t_end = None
        self.attempts = 0
        self.answers = []        # (t, status, appointmentId or None, errorCode or None)
        self.final = None        # last HTTP status, or "gave-up"
        self.final_code = None
        self.late = None         # (status, id, code) of the late replay
        self.cancel = None       # final (status, errorCode) of its DELETE, when it cancelled

    def ids(self):
        return {a[2] for a in self.answers if a[1] in (200, 201) and a[2]}

    def done(self):
        return self.t_end is not None


class Load:
    def __init__(self, port, rate, countries, first_schedule, max_schedule, max_clients=100):
        self.port = port
        self.rate = rate
        self.countries = countries
        self.next_schedule = {cc: first_schedule for cc in countries}
        self.max_schedule = max_schedule
        self.max_clients = max_clients
        self.lock = threading.Lock()
        self.keys = []
        self.row = None
        self.running = threading.Event()
        self.stopped = False
        self.active = 0
        self.shed = 0
        self.exhausted = False
        self.rng = random.Random(10)
        self.thread = threading.Thread(target=self._arrivals, daemon=True)
        self.thread.start()

    # control
    def set_row(self, row):
        with self.lock:
            self.row = row

    def resume(self):
        self.running.set()

    def pause(self):
        self.running.clear()

    def stop(self):
        self.stopped = True
        self.running.set()

    def in_flight(self):
        with self.lock:
            return self.active

    def wait_idle(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.in_flight() == 0:
                return True
            time.sleep(0.2)
        return False

    def keys_of(self, rows):
        with self.lock:
            return [k for k in self.keys if k.row in rows]

    # arrivals
    def _arrivals(self):
        n = 0
        tick = 0
        next_t = time.monotonic()
        while not self.stopped:
            self.running.wait()
            if self.stopped:
                return
            now = time.monotonic()
            if now < next_t:
                time.sleep(min(0.05, next_t - now))
                continue
            next_t = max(next_t + 1.0 / self.rate, now - 1.0)
            batch = []
            with self.lock:
                if self.active >= self.max_clients:
                    self.shed += 1
                    continue
                cc = self.countries[tick % len(self.countries)]
                tick += 1
                schedule = self.next_schedule[cc]
                if schedule > self.max_schedule:
                    self.exhausted = True
                    continue
                self.next_schedule[cc] += 1
                n += 1
                batch.append(Key(n, "%05d" % n, schedule, cc, self.row, False))
                if tick % TWIN_EVERY == 0:  # a second key for the same slot, at once
                    n += 1
                    batch[0].twin = True
                    batch.append(Key(n, "%05d" % n, schedule, cc, self.row, True))
                self.keys.extend(batch)
                self.active += len(batch)
            for key in batch:
                threading.Thread(target=self._client, args=(key,), daemon=True).start()

    def replay_all(self, keys, threads=16):
        """Asks every answered key once more, as a client may within the 24 h the key is kept
        (most of them are older than the API's 20 s claim-takeover limit by now): each must
        be answered 200 with the appointment it was first given."""
        todo = [k for k in keys if k.ids()]
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    k = todo.pop()
                try:
                    k.late = self._ask(k, time.monotonic() + 60)
                except Exception as e:
                    k.late = ("client-error", None, "%s: %s" % (type(e).__name__, e))
        pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()

    # one client
    def _exchange(self, method, path, body=None, headers=None):
        """One request: (status, appointmentId or None, errorCode or None, Retry-After)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            payload = r.read()
            retry_after = r.getheader("Retry-After")
        finally:
            conn.close()
        try:
            doc = json.loads(payload) if payload else {}
        except ValueError:
            doc = {}
        aid = doc.get("appointmentId") if isinstance(doc, dict) else None
        code = None
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            code = doc["error"].get("errorCode")
        return r.status, aid, code, retry_after

    def _post(self, key):
        body = json.dumps({"insuredId": key.insured, "scheduleId": key.schedule,
                           "countryISO": key.country})
        return self._exchange("POST", "/appointments", body,
                              {"Content-Type": "application/json", "Idempotency-Key": key.key})

    def _delete(self, key, aid):
        """DELETE /appointments/{insuredId}/{aid}, the cancel."""
        return self._exchange("DELETE", "/appointments/%s/%s" % (key.insured, aid))

    def _ask(self, key, deadline, aid=None):
        """One exchange (the POST, or with aid the DELETE of that appointment), retried as
        SPEC says; returns the final (status, id, code)."""
        backoff = BACKOFF_MIN
        while True:
            key.attempts += 1
            retry_after = None
            try:
                if aid is not None:
                    status, _, code, retry_after = self._delete(key, aid)
                else:
                    status, aid_got, code, retry_after = self._post(key)
                    key.answers.append((time.monotonic(), status, aid_got, code))
            except (OSError, http.client.HTTPException) as e:
                status, aid_got, code = None, None, type(e).__name__
                if aid is None:
                    key.answers.append((time.monotonic(), None, None, code))
            retry = status is None or status >= 500 or retry_after is not None
            if not retry:
                return status, aid if aid is not None else aid_got, code
            if time.monotonic() > deadline:
                return "gave-up", None, code
            wait = backoff * (0.5 + self.rng.random() / 2)
            if retry_after is not None:
                try:
                    wait = max(wait, min(float(retry_after), BACKOFF_MAX))
                except ValueError:
                    pass
            time.sleep(wait)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _client(self, key):
        try:
            deadline = key.t_start + KEY_DEADLINE
            status, aid, code = self._ask(key, deadline)
            if status in (200, 201) and self.rng.random() < REPLAY_SHARE:
                time.sleep(0.3)
                status, aid, code = self._ask(key, deadline)
            key.final, key.final_code = status, code
            if status in (200, 201) and aid and self.rng.random() < CANCEL_SHARE:
                c_status, _, c_code = self._ask(key, deadline, aid=aid)
                key.cancel = (c_status, c_code)
        except Exception as e:  # never lose a key silently
            key.final, key.final_code = "client-error", "%s: %s" % (type(e).__name__, e)
        finally:
            key.t_end = time.monotonic()
            with self.lock:
                self.active -= 1
