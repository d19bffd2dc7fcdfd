// Safe rendering of chat text: every string goes through textContent; the only markup we
// build ourselves is lists, <strong> and links whose URL is http(s). Never innerHTML.

export function safeHttpUrl(value) {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

export function makeLink(href, label) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = label;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

// [label](url), bare http(s) URLs and **bold**, appended as nodes to `parent`.
const INLINE = /\[([^\]\n]{1,200})\]\(([^)\s]{1,2000})\)|(https?:\/\/[^\s<>()"']{1,2000})|\*\*([^*\n]{1,500})\*\*/g;

export function appendInline(parent, text) {
  let last = 0;
  text.replace(INLINE, (match, label, linkUrl, bareUrl, bold, offset) => {
    if (offset > last) parent.appendChild(document.createTextNode(text.slice(last, offset)));
    if (bold !== undefined) {
      const strong = document.createElement("strong");
      strong.textContent = bold;
      parent.appendChild(strong);
    } else {
      let url = linkUrl !== undefined ? linkUrl : bareUrl;
      let trailing = "";
      if (bareUrl !== undefined) {
        const m = url.match(/[.,;:!?]+$/); // sentence punctuation is not part of the URL
        if (m) { trailing = m[0]; url = url.slice(0, -trailing.length); }
      }
      const href = safeHttpUrl(url);
      if (href) parent.appendChild(makeLink(href, label !== undefined ? label : url));
      else parent.appendChild(document.createTextNode(match)); // javascript: etc. stay plain text
      if (trailing) parent.appendChild(document.createTextNode(trailing));
    }
    last = offset + match.length;
    return match;
  });
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
}

const NUMBERED = /^\s*(\d{1,2})[.)]\s+(.*)$/;
const BULLET = /^\s*[-•*–—]\s+(.*)$/;
// a sub-item: indented, or a dash ("–", "-") right under a list item ("1. Bước\n– chi tiết")
const SUB_BULLET = /^(?:\s{2,}[-•*–—]|\s*[–—-])\s+(.*)$/;

// A bot message as blocks: paragraphs, numbered steps (<ol start>), bullet lists, and the
// "–" sub-items of a step as a list inside that step.
export function renderRichText(text) {
  const container = document.createElement("div");
  container.className = "hdw-text";
  let list = null;
  let listKind = null;
  for (const line of String(text).split("\n")) {
    const sub = list && list.lastElementChild ? line.match(SUB_BULLET) : null;
    if (sub && (listKind === "ol" || /^\s{2,}/.test(line))) {
      const parent = list.lastElementChild;
      let nested = parent.querySelector(":scope > ul");
      if (!nested) {
        nested = document.createElement("ul");
        parent.appendChild(nested);
      }
      const li = document.createElement("li");
      appendInline(li, sub[1]);
      nested.appendChild(li);
      continue;
    }
    const numbered = line.match(NUMBERED);
    const bullet = numbered ? null : line.match(BULLET);
    if (numbered || bullet) {
      const kind = numbered ? "ol" : "ul";
      if (!list || listKind !== kind) {
        list = document.createElement(kind);
        listKind = kind;
        if (numbered) list.start = parseInt(numbered[1], 10);
        container.appendChild(list);
      }
      const li = document.createElement("li");
      appendInline(li, numbered ? numbered[2] : bullet[1]);
      list.appendChild(li);
      continue;
    }
    if (line.trim() === "") continue; // a blank line inside a list keeps the list going
    list = null;
    listKind = null;
    const p = document.createElement("p");
    appendInline(p, line);
    container.appendChild(p);
  }
  return container;
}
