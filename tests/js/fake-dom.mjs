// A minimal DOM for running the app's DOM builders under node: elements, text nodes,
// attributes and children, nothing more. It has no innerHTML, insertAdjacentHTML or
// outerHTML setter, so code that tries to parse markup here fails loudly; `serialize`
// turns a tree back into escaped HTML for comparisons.

const escapeText = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escapeAttribute = (text) => escapeText(text).replace(/"/g, "&quot;");

class FakeNode {
  constructor(doc) {
    this.ownerDocument = doc;
    this.parentNode = null;
    this.childNodes = [];
  }
}

export class FakeText extends FakeNode {
  constructor(doc, data) {
    super(doc);
    this.nodeType = 3;
    this.data = String(data);
  }
  get textContent() {
    return this.data;
  }
}

export class FakeElement extends FakeNode {
  constructor(doc, tagName, namespace) {
    super(doc);
    this.nodeType = 1;
    this.tagName = tagName;
    this.namespaceURI = namespace || "http://www.w3.org/1999/xhtml";
    this.attributes = new Map();
    this.listeners = [];
  }
  setAttribute(name, value) {
    if (!/^[a-z][a-z0-9-]*$/i.test(name)) throw new Error(`bad attribute name ${name}`);
    this.attributes.set(name, String(value));
  }
  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }
  addEventListener(type, listener) {
    this.listeners.push([type, listener]);
  }
  appendChild(child) {
    if (child.parentNode) child.parentNode.removeChild(child);
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }
  append(...children) {
    for (const child of children) this.appendChild(typeof child === "string" ? this.ownerDocument.createTextNode(child) : child);
  }
  removeChild(child) {
    const index = this.childNodes.indexOf(child);
    if (index === -1) throw new Error("not a child");
    this.childNodes.splice(index, 1);
    child.parentNode = null;
    return child;
  }
  replaceChild(next, old) {
    const index = this.childNodes.indexOf(old);
    if (index === -1) throw new Error("not a child");
    if (next.parentNode) next.parentNode.removeChild(next);
    this.childNodes[index] = next;
    next.parentNode = this;
    old.parentNode = null;
    return old;
  }
  replaceChildren(...children) {
    for (const child of [...this.childNodes]) this.removeChild(child);
    this.append(...children);
  }
  get textContent() {
    return this.childNodes.map((child) => child.textContent).join("");
  }
  set textContent(value) {
    this.replaceChildren();
    if (value !== "") this.appendChild(this.ownerDocument.createTextNode(value));
  }
  set innerHTML(_) {
    throw new Error("innerHTML is never used");
  }
  insertAdjacentHTML() {
    throw new Error("insertAdjacentHTML is never used");
  }
  /** Every element below this one, depth first. */
  *descendants() {
    for (const child of this.childNodes) {
      if (child instanceof FakeElement) {
        yield child;
        yield* child.descendants();
      }
    }
  }
}

export class FakeDocument {
  createElement(tagName) {
    return new FakeElement(this, tagName.toLowerCase());
  }
  createElementNS(namespace, tagName) {
    return new FakeElement(this, tagName, namespace);
  }
  createTextNode(data) {
    return new FakeText(this, data);
  }
}

export function serialize(node) {
  if (node instanceof FakeText) return escapeText(node.data);
  if (Array.isArray(node)) return node.map(serialize).join("");
  const attributes = [...node.attributes].map(([name, value]) => ` ${name}="${escapeAttribute(value)}"`).join("");
  if (["br", "hr"].includes(node.tagName)) return `<${node.tagName}${attributes}>`;
  return `<${node.tagName}${attributes}>${node.childNodes.map(serialize).join("")}</${node.tagName}>`;
}
