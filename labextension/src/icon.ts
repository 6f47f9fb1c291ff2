import { LabIcon } from '@jupyterlab/ui-components';

/** Three boxes joined left to right: the pipeline graph. */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">
<g class="jp-icon3" fill="#616161">
<rect x="1" y="6" width="4" height="4" rx="1"/><rect x="11" y="2" width="4" height="4" rx="1"/>
<rect x="11" y="10" width="4" height="4" rx="1"/>
<path d="M5 7.5h2.5V4h3.5v1H8.5v2.5H5zM5 8.5h2.5V12h3.5v-1H8.5V8.5H5z"/>
</g></svg>`;

export const pipelineIcon = new LabIcon({ name: 'jupyter-mlpipe:pipeline', svgstr });
