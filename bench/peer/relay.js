// The benchmark's peer: a minimal socket.io 4 relay, measured beside codestream's server.
//
// It speaks just enough of docs/PROTOCOL.md for bench/ (negotiate, login, joinRoom,
// sendToRoom) and relays a writer's sendToRoom to the room except the sender, as our server
// does; it keeps the writer's last `full` for viewers that join. It checks no token or writer
// key and applies no delta: it is the floor a plain socket.io relay sets, not a second server.
// socket.io's defaults: permessage-deflate off, one pre-encoded frame per broadcast.
//
// node bench/peer/relay.js [--host 127.0.0.1] [--port 0]   prints "Visit http://HOST:PORT"

"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const { Server } = require("socket.io");

const PATH = "/clients/socketio/hubs/codestream";

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const rooms = new Map(); // room id -> {writerKey, full}

function negotiate(req, res, url) {
  let roomId = url.searchParams.get("room_id");
  let writerKey;
  if (!roomId) {
    roomId = crypto.randomBytes(6).toString("hex");
    writerKey = crypto.randomBytes(12).toString("hex");
    rooms.set(roomId, { writerKey, full: { type: "full", version: 0, content: "" } });
  } else if (!rooms.has(roomId)) {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: "not_found", message: "no such room" } }));
    return;
  }
  const endpoint = `http://${req.headers.host}`;
  const token = crypto.randomBytes(16).toString("hex");
  const body = {
    room_id: roomId,
    role: writerKey ? "writer" : "viewer",
    endpoint,
    path: PATH,
    token,
    url: `${endpoint}${PATH}?access_token=${token}`,
  };
  if (writerKey) body.writer_key = writerKey;
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname === "/api/negotiate") return negotiate(req, res, url);
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, { path: PATH, serveClient: false });

io.on("connection", (socket) => {
  socket.emit("login");
  socket.on("joinRoom", (message) => {
    const room = rooms.get(message && message.room_id);
    if (!room) {
      socket.emit("message", { type: "ackJoinRoom", success: false, error: { code: "not_found" } });
      return;
    }
    const writer = message.writer_key === room.writerKey;
    socket.join(message.room_id);
    socket.emit("message", {
      type: "ackJoinRoom",
      success: true,
      room_id: message.room_id,
      role: writer ? "writer" : "viewer",
      version: room.full.version,
    });
    if (!writer) socket.emit("message", { type: "editorMessage", data: room.full });
  });
  socket.on("sendToRoom", (message) => {
    const room = rooms.get(message && message.room_id);
    if (!room || message.writer_key !== room.writerKey) return;
    if (message.data && message.data.type === "full") room.full = message.data;
    socket.to(message.room_id).emit("message", { type: "editorMessage", data: message.data });
  });
});

httpServer.listen(Number(option("port", "0")), option("host", "127.0.0.1"), () => {
  const { address, port } = httpServer.address();
  console.log(`Visit http://${address}:${port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
