// Settings → Security (owner only): the go-live checks `hardshell doctor`
// runs, from GET /api/v1/doctor, most severe first, each with its fix and
// whether `[doctor] acknowledge` names it; and the age of the last good
// backup with the schedule, from GET /api/v1/backups/status. Read only:
// fixes are made on the server (`hardshell doctor --fix`). Every value
// from the server is shown as text.
import { get } from "./api.js";
import { h, table, timeAgo, toSecs } from "./dom.js";

const panel = (title, ...children) => h("section", { class: "panel" }, h("h2", { text: title }), ...children);
const SEVERITY_TAG = { critical: "err-tag", warning: "warn-tag", info: "ok-tag" };

function fmtInterval(secs) {
  if (secs % 86400 === 0) return `${secs / 86400} d`;
  if (secs % 3600 === 0) return `${secs / 3600} h`;
  if (secs % 60 === 0) return `${secs / 60} min`;
  return `${secs} s`;
}

function backupPanel(b) {
  const last = b.last_backup_at
    ? h("p", { dataset: { backupAge: String(b.age_secs) } }, "Last verified backup: ", timeAgo(toSecs(b.last_backup_at)), ".")
    : h("p", { class: "error", dataset: { backupAge: "none" }, text: "No verified backup has been made yet." });
  const schedule = b.scheduled
    ? h("p", { class: "muted", text: `The server makes one every ${fmtInterval(b.every_secs)} and keeps the newest ${b.keep}.` })
    : h("p", { class: "muted", text: "Backups are not scheduled: set every, dir and recipient under [backup] in config.toml, or run hardshell backup create." });
  return panel("Backups", last, schedule);
}

export async function securityTab() {
  const [report, backups] = await Promise.all([get("/api/v1/doctor"), get("/api/v1/backups/status")]);
  const rows = report.findings.map((f) => h("tr", { dataset: { finding: f.id, severity: f.severity } },
    h("td", {}, h("span", { class: `tag ${SEVERITY_TAG[f.severity] || ""}`, text: f.severity })),
    h("td", {}, h("code", { text: f.id })),
    h("td", { text: f.finding }),
    h("td", { text: f.fix }),
    h("td", { text: f.acknowledged ? "acknowledged" : "" })));
  const summary = report.blocking > 0
    ? h("p", { class: "error", text: `${report.blocking} critical finding(s) would stop the server at its next start.` })
    : h("p", { class: "muted", text: "Nothing here stops the server from starting." });
  return [
    panel("Security checks",
      h("p", { class: "muted", text: "The checks hardshell doctor runs, as this server sees them now. The owner-password check runs only from the shell." }),
      summary,
      table(["Severity", "Check", "Found", "Fix", ""], rows, "No findings.", "security")),
    backupPanel(backups),
  ];
}
