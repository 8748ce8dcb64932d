// What the kernel says about a server process (Linux /proc): its memory,
// its open files and its TCP connections, to watch it from outside.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Resident memory of a process, in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

/** What a process's file descriptors point at (`socket:[123]`, paths, …). */
export function openFiles(pid) {
  const targets = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      targets.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed between listing and reading
    }
  }
  return targets;
}

/**
 * The IPv4 TCP sockets between two local ports, as the kernel lists them:
 * `{ inode, state, txQueue, rxQueue }` (an inode of 0 means no process
 * holds it any more).
 */
export function tcpSockets(localPort, remotePort) {
  const hexPort = (port) => port.toString(16).toUpperCase().padStart(4, "0");
  const [local, remote] = [hexPort(localPort), hexPort(remotePort)];
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 9 && f[1].endsWith(`:${local}`) && f[2].endsWith(`:${remote}`))
    .map((f) => {
      const [tx, rx] = f[4].split(":").map((hex) => parseInt(hex, 16));
      return { inode: Number(f[9]), state: parseInt(f[3], 16), txQueue: tx, rxQueue: rx };
    });
}

/**
 * Whether process `pid` still holds the TCP connection from its port
 * `serverPort` to a client's port `clientPort` (an open file descriptor on
 * it). False once the server has closed its end, whatever the kernel
 * still does with the data it had queued.
 */
export function holdsConnection(pid, serverPort, clientPort) {
  const inodes = tcpSockets(serverPort, clientPort).map((s) => s.inode).filter((inode) => inode !== 0);
  if (inodes.length === 0) return false;
  const open = new Set(openFiles(pid));
  return inodes.some((inode) => open.has(`socket:[${inode}]`));
}
