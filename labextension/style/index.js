import './base.css';
import './designer.css';
import './published.css';
import './uplot.css';
