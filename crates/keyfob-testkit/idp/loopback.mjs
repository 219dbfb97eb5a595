// Preloaded (`node --import ./loopback.mjs`) into third-party servers that listen on every
// interface: a listen without a host listens on 127.0.0.1 only, so nothing a test starts is
// reachable from another machine.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") {
    args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
