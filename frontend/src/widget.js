// The help-center chat widget: Rasa's socket.io channel (socket.io protocol v5 / EIO4, as
// served by python-socketio 5 in Rasa 3.6), identity token on every message, transcript kept
// across reloads. All user and bot strings are rendered with textContent (see render.js).
import { io } from "socket.io-client";
import { renderRichText, safeHttpUrl, makeLink } from "./render.js";
import { readConfig, tokens, demoLogin, logout } from "./session.js";

const SESSION_KEY = "cleeksy.helpdesk.session_id";
const TRANSCRIPT_KEY = "cleeksy.helpdesk.transcript";
const OPEN_KEY = "cleeksy.helpdesk.open";
const MAX_TRANSCRIPT = 80;
const TYPING_TIMEOUT_MS = 30000;
const GREETING = "Xin chào! Tôi là trợ lý Cleeksy. Bạn cần hỗ trợ gì về gói giải pháp, nâng cấp, hạ gói hay thanh toán?";

const $ = (id) => document.getElementById(id);

function storage() {
  try { return window.localStorage; } catch (e) { return null; }
}

function loadTranscript(owner) {
  try {
    const saved = JSON.parse(storage().getItem(TRANSCRIPT_KEY) || "null");
    return saved && saved.owner === owner && Array.isArray(saved.items) ? saved.items : [];
  } catch (e) {
    return [];
  }
}

function saveTranscript(owner, items) {
  try {
    storage().setItem(TRANSCRIPT_KEY, JSON.stringify({ owner, items: items.slice(-MAX_TRANSCRIPT) }));
  } catch (e) { /* storage full or disabled: the conversation still works */ }
}

class Widget {
  constructor(config) {
    this.config = config;
    this.log = $("hdw-log");
    this.typing = $("hdw-typing");
    this.status = $("hdw-status");
    this.input = $("hdw-input");
    this.items = [];
    this.owner = "anon";
    this.typingTimer = null;
  }

  async start() {
    $("hdw-launcher").addEventListener("click", () => this.setOpen(true));
    $("hdw-close").addEventListener("click", () => this.setOpen(false));
    $("hdw-restart").addEventListener("click", () => this.restart());
    $("hdw-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = "";
      this.send(text, text);
    });
    const who = await tokens.current();
    this.setOwner(who);
    this.setOpen(storage() && storage().getItem(OPEN_KEY) === "1");
    this.connect();
  }

  setOwner(who) {
    const owner = who && who.role ? `${who.role}:${who.workspace_id || ""}` : "anon";
    this.owner = owner;
    this.items = loadTranscript(owner);
    this.log.replaceChildren();
    for (const item of this.items) this.draw(item, false);
    const identity = $("hdw-identity");
    if (who && who.role === "customer") identity.textContent = `Đang trả lời cho không gian làm việc: ${who.workspace_id}`;
    else if (who && who.role === "agent") identity.textContent = "Bạn đang đăng nhập với tư cách nhân viên hỗ trợ.";
    else identity.textContent = "Chưa đăng nhập: câu trả lời theo quy định chung.";
    if (this.items.length === 0) {
      this.record({ from: "bot", text: GREETING });
    }
  }

  setOpen(open) {
    const panel = $("hdw-panel");
    panel.hidden = !open;
    $("helpdesk-widget").dataset.state = open ? "open" : "closed";
    $("hdw-launcher").setAttribute("aria-expanded", String(open));
    if (storage()) storage().setItem(OPEN_KEY, open ? "1" : "0");
    if (open) { this.scroll(); this.input.focus(); }
  }

  async metadata() {
    const current = await tokens.current();
    return current && current.token ? { token: current.token } : {};
  }

  connect() {
    const socket = io(this.config.rasa_url, {
      path: this.config.socket_path || "/socket.io",
      transports: ["websocket", "polling"],
      reconnectionDelayMax: 5000,
    });
    this.socket = socket;
    socket.on("connect", async () => {
      this.status.textContent = "Trực tuyến";
      const sessionId = storage() ? storage().getItem(SESSION_KEY) : null;
      socket.emit("session_request", { session_id: sessionId, metadata: await this.metadata() });
    });
    socket.on("session_confirm", (sessionId) => {
      if (typeof sessionId === "string" && storage()) storage().setItem(SESSION_KEY, sessionId);
      this.sessionId = sessionId;
      $("helpdesk-widget").dataset.session = "ready";
    });
    socket.on("disconnect", () => { this.status.textContent = "Mất kết nối, đang thử lại…"; });
    socket.on("connect_error", () => { this.status.textContent = "Không kết nối được trợ lý, đang thử lại…"; });
    socket.on("bot_uttered", (message) => this.receive(message));
  }

  async send(text, shown) {
    this.record({ from: "user", text: shown });
    this.showTyping(true);
    const payload = { message: text, session_id: this.sessionId || (storage() && storage().getItem(SESSION_KEY)) };
    payload.metadata = await this.metadata();
    this.socket.emit("user_uttered", payload);
  }

  // Start over: Rasa's /restart resets this user's conversation (forms, slots) on the server too.
  async restart() {
    this.showTyping(false);
    this.items = [];
    saveTranscript(this.owner, this.items);
    this.log.replaceChildren();
    const payload = { message: "/restart", session_id: this.sessionId, metadata: await this.metadata() };
    this.socket.emit("user_uttered", payload);
    this.record({ from: "bot", text: GREETING });
    $("helpdesk-widget").dataset.restarted = String(Date.now());
  }

  receive(message) {
    if (!message || typeof message !== "object") return;
    const data = message.data && typeof message.data === "object" ? message.data : message;
    const item = { from: "bot", text: typeof data.text === "string" ? data.text : "" };
    const replies = data.quick_replies || data.buttons;
    if (Array.isArray(replies)) {
      item.buttons = replies
        .filter((b) => b && typeof b.title === "string")
        .map((b) => ({ title: b.title, payload: typeof b.payload === "string" ? b.payload : (b.url || "") }));
    }
    const attachment = data.attachment;
    if (attachment && attachment.type === "image" && attachment.payload) {
      item.image = safeHttpUrl(attachment.payload.src);
    }
    if (!item.text && !item.buttons && !item.image) return;
    this.showTyping(false);
    this.record(item);
  }

  record(item) {
    this.items.push(item);
    saveTranscript(this.owner, this.items);
    this.draw(item, true);
  }

  draw(item, fresh) {
    const li = document.createElement("li");
    li.className = `hdw-msg hdw-${item.from === "user" ? "user" : "bot"}`;
    if (item.from === "user") {
      const p = document.createElement("p");
      p.textContent = item.text; // the user's own words, never interpreted
      li.appendChild(p);
    } else if (item.text) {
      li.appendChild(renderRichText(item.text));
    }
    if (item.image) {
      const img = document.createElement("img");
      img.src = item.image;
      img.alt = "";
      li.appendChild(img);
    }
    if (item.buttons && item.buttons.length) {
      const row = document.createElement("div");
      row.className = "hdw-buttons";
      for (const button of item.buttons) row.appendChild(this.button(button, fresh));
      li.appendChild(row);
    }
    this.log.appendChild(li);
    this.scroll();
  }

  button(button, fresh) {
    const href = /^https?:/i.test(button.payload) ? safeHttpUrl(button.payload) : null;
    if (href) {
      const link = makeLink(href, button.title); // e.g. the VNPAY pay link: a new tab
      link.className = "hdw-button hdw-link-button";
      return link;
    }
    const el = document.createElement("button");
    el.type = "button";
    el.className = "hdw-button";
    el.textContent = button.title;
    el.addEventListener("click", () => this.send(button.payload || button.title, button.title));
    return el;
  }

  showTyping(on) {
    clearTimeout(this.typingTimer);
    this.typing.hidden = !on;
    if (on) this.typingTimer = setTimeout(() => { this.typing.hidden = true; }, TYPING_TIMEOUT_MS);
    this.scroll();
  }

  scroll() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

function setupDemoLogin(config, widget) {
  const panel = $("demo-login");
  if (!config.demo || !panel) return;
  panel.hidden = false;
  const select = $("demo-workspace");
  for (const ws of config.demo_workspaces || []) {
    const option = document.createElement("option");
    option.value = ws.id;
    option.textContent = `${ws.id} – ${ws.label}`;
    select.appendChild(option);
  }
  const who = $("demo-who");
  const show = (caller) => {
    if (caller && caller.role === "customer") who.textContent = `Đã đăng nhập: khách hàng của ${caller.workspace_id}.`;
    else if (caller && caller.role === "agent") who.textContent = "Đã đăng nhập: nhân viên hỗ trợ. Mở Bảng điều khiển nhân viên để tra cứu.";
    else who.textContent = "Bạn chưa đăng nhập: trợ lý trả lời theo quy định chung.";
  };
  tokens.current().then(show);
  const relogin = async (caller) => {
    show(caller);
    widget.setOwner(await tokens.current());
    if (widget.socket && widget.socket.connected) {
      widget.socket.emit("session_request", { session_id: widget.sessionId, metadata: await widget.metadata() });
    }
  };
  $("demo-login-customer").addEventListener("click", async () => relogin(await demoLogin(select.value, "customer")));
  $("demo-login-agent").addEventListener("click", async () => {
    await demoLogin(null, "agent");
    window.location.assign("/agent");
  });
  $("demo-logout").addEventListener("click", async () => relogin(await logout()));
}

document.addEventListener("DOMContentLoaded", async () => {
  const config = readConfig();
  const widget = new Widget(config);
  window.cleeksyHelpdesk = widget; // for debugging and the browser tests
  setupDemoLogin(config, widget);
  await widget.start();
});
