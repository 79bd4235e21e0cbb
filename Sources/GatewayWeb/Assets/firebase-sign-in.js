// The sign-in page of AUTH_MODE=firebase (docs/auth.md). It signs the person in with Firebase
// Authentication in this browser and submits the gateway's form with the ID token; the gateway
// verifies the token. Google goes through the Firebase JS SDK's popup (in-memory persistence:
// no Firebase session stays in the browser); email and password go through Identity Toolkit's
// REST call, whose base URL follows FIREBASE_AUTH_EMULATOR_HOST as Firebase's SDKs do. The
// password is sent to Firebase only, never to the gateway.

const root = document.getElementById("firebase-sign-in");
const form = document.getElementById("sign-in-form");
const settings = JSON.parse(root.dataset.settings);
const errorLine = document.getElementById("firebase-error");

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
}

function busy(on) {
  for (const button of root.querySelectorAll("button")) button.disabled = on;
}

/** Hands the ID token to the gateway: the form's hidden field, then a normal submission. */
function finish(idToken) {
  form.elements.id_token.value = idToken;
  const action = document.createElement("input");
  action.type = "hidden";
  action.name = "action";
  action.value = "allow";
  form.append(action);
  form.submit();
}

// Identity Toolkit's error codes, as a person should read them.
const PASSWORD_ERRORS = {
  EMAIL_NOT_FOUND: "No account has this email address.",
  INVALID_PASSWORD: "That password is not right.",
  INVALID_LOGIN_CREDENTIALS: "The email address or the password is not right.",
  INVALID_EMAIL: "That is not an email address.",
  USER_DISABLED: "This account has been disabled.",
  TOO_MANY_ATTEMPTS_TRY_LATER: "Too many attempts. Wait a moment and try again.",
};

async function passwordSignIn() {
  const email = document.getElementById("firebase-email").value.trim();
  const password = document.getElementById("firebase-password").value;
  if (!email || !password) return showError("Enter your email address and password.");
  const base = settings.emulatorHost
    ? `http://${settings.emulatorHost}/identitytoolkit.googleapis.com`
    : "https://identitytoolkit.googleapis.com";
  const request = { email, password, returnSecureToken: true };
  if (settings.tenantId) request.tenantId = settings.tenantId;
  busy(true);
  try {
    const response = await fetch(`${base}/v1/accounts:signInWithPassword?key=${encodeURIComponent(settings.apiKey)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.idToken) {
      const code = String(body?.error?.message || "").split(" ")[0];
      return showError(PASSWORD_ERRORS[code] || "Firebase did not sign you in. Try again.");
    }
    finish(body.idToken);
  } catch {
    showError("Firebase cannot be reached from this browser right now.");
  } finally {
    busy(false);
  }
}

async function googleSignIn() {
  busy(true);
  try {
    const sdk = `https://www.gstatic.com/firebasejs/${settings.sdkVersion}`;
    const { initializeApp } = await import(`${sdk}/firebase-app.js`);
    const auth = await import(`${sdk}/firebase-auth.js`);
    const app = initializeApp({ apiKey: settings.apiKey, authDomain: settings.authDomain, projectId: settings.projectId });
    const instance = auth.initializeAuth(app, {
      persistence: auth.inMemoryPersistence,
      popupRedirectResolver: auth.browserPopupRedirectResolver,
    });
    if (settings.tenantId) instance.tenantId = settings.tenantId;
    const result = await auth.signInWithPopup(instance, new auth.GoogleAuthProvider());
    finish(await result.user.getIdToken());
  } catch (error) {
    const code = error?.code || "";
    if (code === "auth/popup-closed-by-user" || code === "auth/cancelled-popup-request") {
      showError("The Google window was closed before signing in.");
    } else if (code === "auth/popup-blocked") {
      showError("The browser blocked Google's sign-in window. Allow pop-ups for this page and try again.");
    } else if (code === "auth/unauthorized-domain") {
      showError(`Firebase does not allow sign-in from ${location.hostname}: add it to the Firebase project's Authorized domains.`);
    } else if (!code) {
      showError("Firebase's sign-in could not be loaded in this browser.");
    } else {
      showError(`Google sign-in failed (${code}).`);
    }
  } finally {
    busy(false);
  }
}

document.getElementById("firebase-google")?.addEventListener("click", googleSignIn);
document.getElementById("firebase-password-sign-in")?.addEventListener("click", passwordSignIn);
document.getElementById("firebase-password")?.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    passwordSignIn();
  }
});
