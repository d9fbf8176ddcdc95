/** What a stage hands back to its action's entry: outputs by action.yml name, and a job summary. */
export interface StageResult<Outputs extends Record<string, string>> {
  outputs: Outputs;
  /** Markdown for the job summary. */
  summary: string;
}
