// Starts fauxqs (SQS + SNS emulator) quietly on one loopback address for scripts/stack.sh.
// fauxqs 1.9.2's startFauxqs() hard-codes host 0.0.0.0 (its `host` option only names the host
// in queue URLs), so the listen() wrapper below pins this process's listening sockets to
// APPT_FAUXQS_HOST (default 127.0.0.1). Its CLI (dist/cli.js) logs every request; this does not.
import net from "node:net";

const host = process.env.APPT_FAUXQS_HOST || "127.0.0.1";
const port = Number.parseInt(process.env.APPT_FAUXQS_PORT || "19324", 10);

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args.length > 0 && args[0] !== null && typeof args[0] === "object") {
    args[0] = { ...args[0], host };
  }
  return listen.apply(this, args);
};

const { startFauxqs } = await import("fauxqs");
const server = await startFauxqs({ logger: false, port });
process.stdout.write(`fauxqs listening on ${server.address}\n`);

const stop = () => {
  setTimeout(() => process.exit(0), 2000).unref();
  server.stop().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
