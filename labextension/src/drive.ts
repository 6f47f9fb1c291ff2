/**
 * A read-only contents drive for executed step notebooks.
 *
 * They are stored in the hidden `.mlpipe` folder, which the Contents API will
 * not serve; this drive reads them from `GET mlpipe/api/runs/{id}/steps/{step}/notebook`
 * so that JupyterLab can open `mlpipe:<run>/<step>.ipynb` as an ordinary
 * (read-only) notebook document.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { MlpipeApiError, requestAPI } from './api';
import { decodeLocalPath, DRIVE_NAME, encodeLocalPath, IStepNotebookRef, markTrusted, notebookEndpoint } from './stepnotebook';

export const READ_ONLY_MESSAGE = 'Executed step notebooks are read-only: copy the cells into your notebook to change them.';

export class StepNotebookDrive implements Contents.IDrive {
  constructor(serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()) {
    this.serverSettings = serverSettings;
  }

  readonly name = DRIVE_NAME;
  readonly serverSettings: ServerConnection.ISettings;

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Remember which pipeline notebook (path from the server root) a run belongs
   * to, and return the drive-local path of the step's executed notebook.
   */
  register(run: string, step: string, notebook: string | null): string {
    const local = encodeLocalPath(run, step);
    if (notebook) {
      this._notebooks.set(local, notebook);
    }
    return local;
  }

  /** The pipeline notebook remembered for a drive-local path, if any. */
  notebookOf(localPath: string): string | null {
    const ref = decodeLocalPath(localPath);
    return ref ? this._notebooks.get(encodeLocalPath(ref.run, ref.step)) ?? null : null;
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    if (!localPath.replace(/\//g, '')) {
      return this._directory(options?.content !== false);
    }
    const ref = this._ref(localPath);
    if (options?.type && options.type !== 'notebook') {
      throw new Error(`${DRIVE_NAME}:${localPath} is a notebook, not a ${options.type}.`);
    }
    const wanted = options?.content !== false;
    let content: any = null;
    try {
      content = await requestAPI<any>(this._endpoint(ref), {}, this.serverSettings);
    } catch (error) {
      if (error instanceof MlpipeApiError && error.hint) {
        throw new MlpipeApiError(`${error.message} ${error.hint}`, error.status, error.hint, error.data);
      }
      throw error;
    }
    return this._model(ref, wanted ? markTrusted(content) : null, JSON.stringify(content).length);
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    return URLExt.join(this.serverSettings.baseUrl, 'mlpipe', 'api', this._endpoint(this._ref(localPath)));
  }

  // every write is refused: these are records of what ran
  newUntitled(_options?: Contents.ICreateOptions): Promise<Contents.IModel> {
    return this._readOnly();
  }
  delete(_localPath: string): Promise<void> {
    return this._readOnly();
  }
  rename(_oldLocalPath: string, _newLocalPath: string): Promise<Contents.IModel> {
    return this._readOnly();
  }
  save(_localPath: string, _options?: Partial<Contents.IModel>): Promise<Contents.IModel> {
    return this._readOnly();
  }
  copy(_localPath: string, _toLocalDir: string): Promise<Contents.IModel> {
    return this._readOnly();
  }
  createCheckpoint(_localPath: string): Promise<Contents.ICheckpointModel> {
    return this._readOnly();
  }
  async listCheckpoints(_localPath: string): Promise<Contents.ICheckpointModel[]> {
    return [];
  }
  restoreCheckpoint(_localPath: string, _checkpointID: string): Promise<void> {
    return this._readOnly();
  }
  deleteCheckpoint(_localPath: string, _checkpointID: string): Promise<void> {
    return this._readOnly();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._notebooks.clear();
    Signal.clearData(this);
  }

  private _ref(localPath: string): IStepNotebookRef {
    const ref = decodeLocalPath(localPath);
    if (!ref) {
      throw new Error(`${DRIVE_NAME}:${localPath} is not an executed step notebook (expected ${DRIVE_NAME}:RUN_ID/STEP.ipynb).`);
    }
    return ref;
  }

  private _endpoint(ref: IStepNotebookRef): string {
    return notebookEndpoint(ref, this._notebooks.get(encodeLocalPath(ref.run, ref.step)));
  }

  private _model(ref: IStepNotebookRef, content: any, size?: number): Contents.IModel {
    const now = new Date().toISOString();
    return {
      name: `${ref.step}.ipynb`,
      path: encodeLocalPath(ref.run, ref.step),
      type: 'notebook',
      format: content === null ? null : 'json',
      mimetype: 'application/x-ipynb+json',
      content,
      writable: false,
      created: now,
      last_modified: now,
      size
    };
  }

  private _directory(withContent: boolean): Contents.IModel {
    const now = new Date().toISOString();
    const listing = [...this._notebooks.keys()].map(local => this._model(decodeLocalPath(local)!, null));
    return {
      name: '',
      path: '',
      type: 'directory',
      format: withContent ? 'json' : null,
      mimetype: '',
      content: withContent ? listing : null,
      writable: false,
      created: now,
      last_modified: now
    };
  }

  private _readOnly<T>(): Promise<T> {
    return Promise.reject(new Error(READ_ONLY_MESSAGE));
  }

  private _notebooks = new Map<string, string>();
  private _disposed = false;
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
}
