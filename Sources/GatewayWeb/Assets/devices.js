// Devices (/app/devices): the caller's devices, online status live from the user stream.

import { api } from "./api.js";
import { h, show, statusBadge, setStatus } from "./dom.js";
import { failure, userStream } from "./shell.js";

export async function devicesPage() {
  const devices = await api("GET", "/v1/devices");
  const badges = new Map();
  show(
    "Devices",
    devices.length
      ? h(
          "ul",
          { class: "cards" },
          devices.map((device) => {
            const badge = statusBadge(device.online, "Online", "Offline");
            badges.set(device.id, badge);
            return h(
              "li",
              { class: "card device", "data-device-id": device.id },
              h("h3", {}, device.name),
              h("p", { class: "muted" }, `${device.platform} · id ${device.id}`),
              badge,
            );
          }),
        )
      : h("p", { class: "muted" }, "No devices yet. Sign in from the desktop app or gatewayctl with this gateway's URL."),
  );
  if (!devicesPage.stream) {
    devicesPage.stream = userStream(
      (type, data) => {
        if (type === "device.status") {
          if (badges.has(data.device_id)) setStatus(badges.get(data.device_id), data.online, "Online", "Offline");
          else devicesPage().catch(failure);
        }
      },
      () => devicesPage().catch(failure),
    );
  }
}
