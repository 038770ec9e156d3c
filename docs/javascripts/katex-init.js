// Render the math that pymdownx.arithmatex (generic mode) leaves as \( … \) and \[ … \], with self-hosted KaTeX.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
});
