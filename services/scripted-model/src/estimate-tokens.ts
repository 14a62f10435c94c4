/** A deterministic token estimate: about four characters a token, as OpenAI's rule of thumb says. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
