// Live status: an element with data-poll="<url>" is refreshed from that JSON every second
// until the work it shows has ended; [data-field=x] children show the field x.
(function () {
  const box = document.querySelector("[data-poll]");
  if (!box) return;
  const url = box.getAttribute("data-poll");
  const ended = ["DONE", "ERROR", "FAILED"];
  async function tick() {
    let data;
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return setTimeout(tick, 2000);
      data = await response.json();
    } catch (e) {
      return setTimeout(tick, 2000);
    }
    for (const el of box.querySelectorAll("[data-field]")) {
      const name = el.getAttribute("data-field");
      if (name === "download") {
        if (data.download) { el.setAttribute("href", data.download); el.hidden = false; }
      } else if (name in data && data[name] !== null) {
        el.textContent = String(data[name]);
      }
    }
    if (!ended.includes(data.status)) setTimeout(tick, 1000);
  }
  tick();
})();
