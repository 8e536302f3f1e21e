// Two plugins for the %bocker magics in JupyterLab 4.
//
// Highlighting: %%bocker cells highlighted as what they hold: a `%%bocker build` cell as a
// Dockerfile, a `%%bocker compose` cell as YAML, a `%%bocker run` or `exec` cell as shell. A
// code cell's editor takes its language from the cell model's mime type; this plugin sets that
// mime type from the cell's first line, and gives the notebook's own back when the line changes.
//
// Completion: the Tab menu of a %bocker line holds the kernel's candidates only. JupyterLab
// merges two providers into every menu: the kernel's and its context completer, which offers
// tokens of the editor's own text (so `%bocker lo` + Tab listed `%`, `bocker`, `logs` beside
// the kernel's logs, login, logout, load). Where the cursor is in a magic's arguments (the
// same test as the kernel's matcher, bocker_magics/completion.py) the context completer is
// not applicable; everywhere else (Python, a %%bocker cell's body) it works as before.
import { ICompletionProviderManager } from '@jupyterlab/completer';
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

const highlight = {
  id: 'bocker-magics-highlight:plugin',
  description: 'Highlight %%bocker build cells as Dockerfiles, compose as YAML, run and exec as shell',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app, tracker) => {
    tracker.forEach(follow);
    tracker.widgetAdded.connect((_, panel) => follow(panel));
  }
};

// -- completion ------------------------------------------------------------------------------
const CONTEXT_PROVIDER = 'CompletionProvider:context';
// bocker_magics/completion.py's _MAGIC: a line or cell magic, then its arguments to the cursor
const MAGIC = /(?:^|[\s=(])(%%?bocker)(\s.*)?$/;

// Whether the text of a line up to the cursor (the line's number in its cell: a cell magic's
// arguments are its first line) is in a %bocker magic's arguments, where the kernel answers
// with verbs, options and names only.
export function inMagicArguments(before, lineNumber) {
  const m = MAGIC.exec(before || '');
  if (!m || m[2] === undefined) {
    return false; // not a magic, or `%bocker` itself (the kernel completes magic names)
  }
  if (m[1] === '%%bocker') {
    return lineNumber === 0 && before.startsWith('%%bocker');
  }
  return true;
}

function cursorInMagicArguments(editor) {
  if (!editor || typeof editor.getCursorPosition !== 'function') {
    return false;
  }
  const { line, column } = editor.getCursorPosition();
  const text = editor.getLine(line);
  return text !== undefined && inMagicArguments(text.slice(0, column), line);
}

// The context completer, made not applicable in a magic's arguments (once per provider).
const GUARDED = Symbol('bocker-magics guard');
function guard(provider) {
  if (!provider || provider[GUARDED] || typeof provider.isApplicable !== 'function') {
    return;
  }
  const isApplicable = provider.isApplicable;
  provider.isApplicable = async function (context) {
    if (cursorInMagicArguments(context && context.editor)) {
      return false;
    }
    return isApplicable.call(this, context);
  };
  provider[GUARDED] = true;
}

const completion = {
  id: 'bocker-magics-highlight:completion',
  description: "A %bocker line's Tab menu lists the kernel's completions only, not the notebook's words",
  autoStart: true,
  requires: [ICompletionProviderManager],
  activate: (app, manager) => {
    // JupyterLab's own plugin registers the context completer: before this one or after
    const providers = typeof manager.getProviders === 'function' ? manager.getProviders() : null;
    if (providers) {
      guard(providers.get(CONTEXT_PROVIDER));
    }
    const register = manager.registerProvider;
    manager.registerProvider = function (provider) {
      if (provider && provider.identifier === CONTEXT_PROVIDER) {
        guard(provider);
      }
      return register.call(this, provider);
    };
  }
};

export default [highlight, completion];
