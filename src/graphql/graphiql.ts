/** What GraphiQL opens with: a first query to run. */
export const EXAMPLE_QUERY = `# Welcome to Strata. Try:
{
  serverInfo { version engine }
}
`;
