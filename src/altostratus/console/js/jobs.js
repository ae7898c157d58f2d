// Running an async command with its progress said in a status line.

/**
 * Runs `command` as a job, saying in `line` what it is doing, how long it has taken and
 * how it ended (the job's own error text on failure). Answers the job's result or null.
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
    if (!(error.code === 401 && app.session === null)) app.notice(error.message);
    return null;
  }
}
