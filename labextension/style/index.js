import './base.css';
import './published.css';
import './uplot.css';
