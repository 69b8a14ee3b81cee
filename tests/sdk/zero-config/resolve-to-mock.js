'use strict';

// A hosts file for this Node process only: Smartcar's host names resolve to the mock.
//
// Loaded with `node --require ./resolve-to-mock.js app.js`, so the app itself does not change and
// /etc/hosts is not touched. Every TCP connection (http, https, fetch/undici) goes through
// `net.Socket.prototype.connect`; a connection to a mapped name is sent to the mock instead. TLS
// keeps the real name for SNI and the certificate check (`servername`), so the certificate is still
// checked against api.smartcar.com and friends.
//
//   MOCK_HOSTS_FILE  lines "<address> <name>…", as `mock-server hosts` prints them (# comments ignored)
//   MOCK_HTTPS_PORT  the port 443 of those names goes to (the mock's --tls-addr port; default 443),
//                    since a hosts file maps names, not ports

const fs = require('node:fs');
const net = require('node:net');

const hosts = new Map();
if (process.env.MOCK_HOSTS_FILE) {
  for (const line of fs.readFileSync(process.env.MOCK_HOSTS_FILE, 'utf8').split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    for (const name of names) {
      hosts.set(name.toLowerCase(), address);
    }
  }
}
const httpsPort = Number(process.env.MOCK_HTTPS_PORT || 443);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectMapped(...args) {
  // Node's own callers pass one already-normalised [options, callback] array.
  const [options, callback] = Array.isArray(args[0]) ? args[0] : args;
  const address = options && typeof options === 'object' && typeof options.host === 'string' ?
    hosts.get(options.host.toLowerCase().replace(/\.$/, '')) :
    undefined;
  if (address === undefined) {
    return connect.apply(this, args);
  }
  const port = Number(options.port) === 443 ? httpsPort : options.port;
  const mapped = {...options, host: address, port};
  return typeof callback === 'function' ? connect.call(this, mapped, callback) : connect.call(this, mapped);
};
