// Running an async command with its progress said in a status line.

/**
 * Runs `command` as a job, saying in `line` (next to the button that started it) what it
 * is doing, how long it has taken and how it ended: the API's refusal or the job's own
 * error text. Answers the job's result, or null when it failed.
 */
export async function runJob(app, line, label, command, params) {
  line.textContent = `${label}…`;
  line.className = "status busy";
  try {
    const result = await app.api.job(command, params, ({ jobid, seconds }) => {
      line.textContent = `${label}… (job ${jobid}, ${seconds} s)`;
    });
    line.textContent = `${label}: done.`;
    line.className = "status ok";
    return result;
  } catch (error) {
    line.textContent = `${label} failed: ${error.message}`;
    line.className = "status failed";
    return null;
  }
}
