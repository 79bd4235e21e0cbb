// The page tests/python/test_web_modules.py opens in Chromium: it loads the app's Markdown and
// QR modules from /assets/web/ (as the app does, under the app's CSP) and hands them to the test.
import { markdownText, parseMarkdown, renderMarkdown } from "/assets/web/markdown.js";
import { qrCode, qrSVG } from "/assets/web/qr.js";

window.harness = { markdownText, parseMarkdown, renderMarkdown, qrCode, qrSVG };
document.body.dataset.ready = "yes";
