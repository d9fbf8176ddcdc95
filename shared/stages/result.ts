/** What a stage hands back to its action's entry: outputs by action.yml name, and a job summary. */
export interface StageResult<Outputs extends Record<string, string>> {
  outputs: Outputs;
  /** Markdown for the job summary. */
  summary: string;
  /**
   * Set when the step failed but has results to show (a host failed its health check): the entry
   * reports the outputs and summary, then fails the step with this.
   */
  failure?: Error;
}
