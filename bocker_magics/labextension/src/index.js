// %%bocker cells highlighted as what they hold: a `%%bocker build` cell as a Dockerfile, a
// `%%bocker compose` cell as YAML, a `%%bocker run` or `exec` cell as shell. A code cell's
// editor takes its language from the cell model's mime type; this plugin sets that mime type
// from the cell's first line, and gives the notebook's own back when the line changes.
import { INotebookTracker } from '@jupyterlab/notebook';

const MODES = [
  [/^%%bocker\s+build\b/, 'text/x-dockerfile'],
  [/^%%bocker\s+compose\b/, 'text/x-yaml'],
  [/^%%bocker\s+(run|exec)\b/, 'text/x-sh']
];
const OURS = new Set(MODES.map(([, mime]) => mime));

export function mimeFor(source) {
  const first = (source || '').split('\n', 1)[0].trim();
  const hit = MODES.find(([pattern]) => pattern.test(first));
  return hit ? hit[1] : null;
}

function follow(panel) {
  const notebook = panel.content;
  const watched = new WeakSet();

  const apply = cell => {
    if (!cell || !cell.model || cell.model.type !== 'code') {
      return;
    }
    const wanted = mimeFor(cell.model.sharedModel.getSource());
    const current = cell.model.mimeType;
    if (wanted && current !== wanted) {
      cell.model.mimeType = wanted;
    } else if (!wanted && OURS.has(current)) {
      cell.model.mimeType = notebook.codeMimetype;
    }
  };

  const watch = () => {
    for (const cell of notebook.widgets) {
      if (cell.model && cell.model.type === 'code' && !watched.has(cell.model)) {
        watched.add(cell.model);
        cell.model.contentChanged.connect(() => apply(cell));
        // the notebook sets every code cell's mime type when its kernel's language is known
        cell.model.mimeTypeChanged.connect(() => apply(cell));
      }
      apply(cell);
    }
  };

  notebook.modelContentChanged.connect(watch);
  panel.sessionContext.ready.then(watch);
  watch();
}

const plugin = {
  id: 'bocker-magics-highlight:plugin',
  description: 'Highlight %%bocker build cells as Dockerfiles, compose as YAML, run and exec as shell',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app, tracker) => {
    tracker.forEach(follow);
    tracker.widgetAdded.connect((_, panel) => follow(panel));
  }
};

export default plugin;
